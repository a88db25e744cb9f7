import ArgumentParser

/// The train arguments of a job: the options of `spottrain train` without the ones the job
/// sets itself, and how `job run` completes them.
enum JobTrainArguments {
    /// The options `job run` sets (the store, the cache, spot handling, the summary) and a
    /// job therefore refuses, with why.
    static let refused: [(flag: String, why: String)] = [
        ("--checkpoint-dir", "job run keeps checkpoints in the job's store (s3://…/checkpoints)"),
        ("--checkpoint-mirror", "job run keeps checkpoints in the job's store (s3://…/checkpoints)"),
        ("--spot", "job run always watches for spot notices"),
        ("--summary", "job run writes the summary into its work dir"),
        ("--fresh", "a job resumes after every interruption; start a new job (another --store prefix) to start over"),
        ("--cache-dir", "job run's --work-dir is the cache"),
        ("--data-cache-dir", "job run's --work-dir is the cache"),
    ]

    /// Refuses the flags the job sets and checks that the rest parse and validate as
    /// `spottrain train` options (with the job's own flags added).
    /// - Parameter arguments: The train arguments.
    /// - Throws: ``JobError`` (`.refusedArgument`, exit 64) naming the flag, or the parser's
    ///   message.
    static func validate(_ arguments: [String]) throws {
        for argument in arguments {
            // `--flag value` or `--flag=value`; nothing after `--` is an option.
            if argument == "--" { break }
            let flag = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
            if let entry = refused.first(where: { $0.flag == flag }) {
                throw JobError(.refusedArgument, "\(entry.flag) is set by the job itself (\(entry.why)); remove it from the train arguments")
            }
        }
        _ = try options(arguments, store: "s3://spottrain-validation/job", workDir: "/nonexistent/spottrain-job")
    }

    /// The `spottrain train` arguments `job run` trains with.
    /// - Parameters:
    ///   - arguments: The job's train arguments.
    ///   - store: The job's `s3://BUCKET/PREFIX`.
    ///   - workDir: The local work dir (cache and summary).
    /// - Returns: The full argument list.
    static func complete(_ arguments: [String], store: String, workDir: String) -> [String] {
        arguments + ["--checkpoint-dir", checkpointStore(of: store), "--cache-dir", workDir,
                     "--spot", "--summary", summaryPath(workDir: workDir)]
    }

    /// `s3://BUCKET/PREFIX/checkpoints`.
    static func checkpointStore(of store: String) -> String {
        (store.hasSuffix("/") ? String(store.dropLast()) : store) + "/checkpoints"
    }

    /// The summary file in the work dir.
    static func summaryPath(workDir: String) -> String { workDir + "/summary.json" }

    /// Parses the completed arguments as `spottrain train` (ArgumentParser's parse and
    /// ``TrainCommand/validate()``).
    /// - Returns: The options.
    /// - Throws: ``JobError`` (`.refusedArgument`) with the parser's message.
    static func options(_ arguments: [String], store: String, workDir: String) throws -> TrainCommand {
        do {
            return try TrainCommand.parse(complete(arguments, store: store, workDir: workDir))
        } catch {
            throw JobError(.refusedArgument, "the train arguments are not valid spottrain train options: "
                               + TrainCommand.message(for: error))
        }
    }
}
