extension CheckpointFormat {
    /// Checks a checkpoint file's frame before the file is read into memory: the magic and
    /// major version at the start, and at the end the completion marker and the footer's
    /// record of where the data ends, which must agree with `size`. A file bigger (or
    /// smaller) than its own footer says is rejected here, so a reader never allocates the
    /// size of a file that is not a complete checkpoint. The same checks, in the same
    /// order and with the same error codes, start every full parse of the bytes.
    /// - Parameters:
    ///   - size: The file's size from `fstat`.
    ///   - path: The file, for errors.
    ///   - read: Reads `count` bytes at `offset` (fewer only at end of file).
    /// - Throws: ``CheckpointError`` (`.truncated`, `.badMagic`, `.unsupportedVersion`), or
    ///   whatever `read` throws.
    public static func checkFrame(size: Int, path: String?,
                                  read: (_ offset: Int, _ count: Int) throws -> [UInt8]) throws {
        func fail(_ code: CheckpointError.Code, _ message: String) -> CheckpointError {
            CheckpointError(code, message, path: path)
        }
        guard size > 0 else { throw fail(.truncated, "the file is empty") }
        let headCount = min(size, headerSize)
        let head = try read(0, headCount)
        guard head.count == headCount else { throw fail(.truncated, "the file shrank while it was read") }
        for i in 0..<min(size, magic.count) where head[i] != magic[i] {
            throw fail(.badMagic, "the file does not start with the checkpoint magic 'SPOTCKPT'")
        }
        guard size >= 12 else { throw fail(.truncated, "the file is \(size) bytes long, too short for a header") }
        let major = UInt16(head[8]) | UInt16(head[9]) << 8
        let minor = UInt16(head[10]) | UInt16(head[11]) << 8
        guard major == majorVersion else {
            throw fail(.unsupportedVersion,
                       "format version \(major).\(minor) is not supported (this reader reads \(majorVersion).x)")
        }
        let minimum = headerSize + footerSize
        guard size >= minimum else {
            throw fail(.truncated, "the file is \(size) bytes long, shorter than the minimum \(minimum)")
        }
        let tail = try read(size - footerSize, footerSize)
        guard tail.count == footerSize else { throw fail(.truncated, "the file shrank while it was read") }
        for i in 0..<endMarker.count where tail[footerSize - endMarker.count + i] != endMarker[i] {
            throw fail(.truncated, "the file does not end with the completion marker 'CKPTDONE' (incomplete save or trailing bytes)")
        }
        var declared: UInt64 = 0
        for i in (0..<8).reversed() { declared = declared << 8 | UInt64(tail[i]) }
        guard declared == UInt64(size - footerSize) else {
            throw fail(.truncated, "the footer says the data ends at byte \(declared), but it ends at \(size - footerSize)")
        }
    }
}
