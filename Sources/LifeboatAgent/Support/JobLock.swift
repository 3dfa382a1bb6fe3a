#if canImport(Glibc)
    import Glibc
#endif
import LifeboatBackup
import LifeboatStores

/// An exclusive lock per job (`flock` on `state_dir/locks/<job>.lock`), released when the process
/// ends however it ends: a job never runs twice at once.
final class JobLock {
    private var fd: Int32

    init(stateDirectory: String, job: String) throws {
        let folder = stateDirectory + "/locks"
        try LocalFiles.makeDirectories(folder, mode: 0o700)
        let path = folder + "/" + job + ".lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BackupError(.usage, "cannot open lock file \(path): \(errnoText())") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            fd = -1
            throw BackupError(.busy, "job '\(job)' is already running (lock \(path) is held)")
        }
    }

    deinit {
        if fd >= 0 { close(fd) }
    }
}
