// Programmer errors (a shape mismatch, an invalid hyperparameter) stop the program with a
// message that names the values involved, as in `Dense dense1: input shape [4, 5] does not
// match [batch, 3]`. Swift's own `precondition` and `preconditionFailure` drop their message
// in optimized (`-O`) builds, which is how most apps ship, so SpotTrain shadows them within
// this module with versions that keep it. The check itself is the same, and costs the same.

/// Stops with `message` (in every build configuration) when `condition` is false.
@inline(__always)
func precondition(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String = String(),
                  file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { fatalError(message(), file: file, line: line) }
}

/// Stops with `message` in every build configuration.
@inline(__always)
func preconditionFailure(_ message: @autoclosure () -> String = String(),
                         file: StaticString = #fileID, line: UInt = #line) -> Never {
    fatalError(message(), file: file, line: line)
}
