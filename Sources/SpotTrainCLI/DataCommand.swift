import ArgumentParser
import EC2Spot
import Foundation

/// `spottrain data download`.
struct DataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Fetch training data sets.",
        subcommands: [DataDownloadCommand.self]
    )
}

/// `spottrain data download mnist [--to DIR] [--mirror URL]…`.
struct DataDownloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download a data set from its usual mirrors, verifying every file's SHA-256.",
        discussion: """
        For MNIST: the four gzipped IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, \
        t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz), from \
        https://ossci-datasets.s3.amazonaws.com/mnist/ then \
        https://storage.googleapis.com/cvdf-datasets/mnist/ unless --mirror is given. A file is \
        accepted only if its size and SHA-256 are those of the original distribution or of the copy \
        this repository ships in Data/mnist. A file already in DIR and valid is kept (nothing is \
        fetched); an invalid one is fetched again and replaced. A mirror that fails or serves wrong \
        bytes is skipped for the next one. Each file is written to a temporary file in DIR and \
        renamed only once verified, so DIR never holds a partial or unverified file under a final \
        name. HTTPS_PROXY, HTTP_PROXY and NO_PROXY are honoured.

        Exit status: 0 every file is in DIR and valid; 1 a file could not be fetched (no mirror \
        reachable, HTTP errors, timeouts, bodies cut short; some mirror failed in a way a later try \
        may not repeat) or DIR could not be written; 78 every mirror served complete bytes that are \
        not a known archive of a file (a retry would get the same bytes: change --mirror); 64 usage \
        (an unknown data set, a --mirror that is not an http(s) URL, a --to or a file in DIR that \
        is not a directory or regular file).
        """)

    @Argument(help: "The data set: mnist.")
    var dataSet: String

    @Option(name: .customLong("to"), help: ArgumentHelp("The directory to write the files to (created if missing).", valueName: "dir"))
    var directory: String = "data/mnist"

    @Option(name: .customLong("mirror"),
            help: ArgumentHelp("A base URL to fetch the files from (the file name is appended); repeatable, tried in order. Replaces the default mirrors.",
                              valueName: "url"))
    var mirrors: [String] = []

    @Option(help: ArgumentHelp("The deadline of each file's request, body included, in seconds.", valueName: "seconds"))
    var timeout: Int = 600

    func validate() throws {
        guard DownloadableDataSet.all[dataSet] != nil else {
            throw ValidationError("unknown data set '\(dataSet)' (known: \(DownloadableDataSet.all.keys.sorted().joined(separator: ", ")))")
        }
        for mirror in mirrors where Self.baseURL(mirror) == nil {
            throw ValidationError("--mirror must be an http(s):// URL with a host, not '\(mirror)'")
        }
        guard (1...86_400).contains(timeout) else { throw ValidationError("--timeout must be in 1...86400 seconds") }
    }

    func run() async throws {
        try PathArguments.require(directory, is: .directory, for: "--to")
        guard let dataSet = DownloadableDataSet.all[dataSet] else { throw ExitCode(ExitStatus.usage) }
        let bases = (mirrors.isEmpty ? dataSet.defaultMirrors : mirrors).compactMap(Self.baseURL)
        // A few tens of MB: the largest MNIST file is under 10 MB, and each request also caps
        // the body at the size of the largest accepted archive of its file.
        let transport = AsyncHTTPClientTransport.aws(environment: ProcessInfo.processInfo.environment,
                                                     maximumResponseBytes: 32 << 20)
        let downloader = DataDownloader(transport: transport, mirrors: bases, timeout: .seconds(timeout),
                                        notice: { printNotice($0) })
        do {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw DataDownloadError(code: .unavailable, message: "cannot create --to \(directory)", underlying: error)
            }
            try await downloader.fetch(dataSet, into: directory) { file, outcome, digest in
                switch outcome {
                case .present:
                    print("\(file.name): present, sha256 \(digest)")
                case .downloaded(let url):
                    print("\(file.name): downloaded from \(url.absoluteString), sha256 \(digest)")
                }
            }
        } catch let error as DataDownloadError {
            printError(error.description)
            throw ExitCode(error.exitStatus)
        }
        print("\(dataSet.name): \(dataSet.files.count) files verified in \(directory)")
    }

    /// `text` as a mirror base URL ending in `/`, or nil if it is not an http(s) URL with a host.
    static func baseURL(_ text: String) -> URL? {
        guard let url = URL(string: text.hasSuffix("/") ? text : text + "/"),
              let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty else { return nil }
        return url
    }
}
