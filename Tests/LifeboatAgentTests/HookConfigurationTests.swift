import Foundation
import Logging
import Testing

@testable import LifeboatAgent

/// The hook keys of jobs and sources: the YAML shapes, the default timeout, and errors that name the
/// key and the line.
@Suite struct HookConfigurationTests {
    func load(_ yaml: String) throws -> Configuration {
        let dir = NSTemporaryDirectory() + "lifeboat-hooks-test-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/lifeboat.yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o600)
        return try Configuration.load(path: path, environment: [:])
    }

    static let base = """
        host: pbx7
        encryption: none
        sources:
          - {name: astdb, kind: sqlite, path: /var/lib/asterisk/astdb.sqlite3, SOURCE_HOOKS}
          - {name: config, kind: files, path: /etc/asterisk}
        stores: [{name: nas, kind: local, path: /mnt/nas}]
        jobs:
          - name: nightly
            sources: [astdb, config]
            stores: [nas]
        JOB_HOOKS
        """

    func yaml(job: String = "", source: String = "post_restore: []") -> String {
        Self.base.replacingOccurrences(of: "JOB_HOOKS", with: job).replacingOccurrences(
            of: "SOURCE_HOOKS", with: source)
    }

    @Test func readsEveryShape() throws {
        let c = try load(
            yaml(
                job: """
                        pre_backup: [/bin/sh, -c, "echo stop"]
                        post_backup: {run: [/bin/true], timeout: 2m}
                        pre_restore:
                          - [/bin/true, one]
                          - {run: [/bin/true, two], timeout: 30s}
                        post_restore: []
                    """,
                source: "pre_restore: [/bin/true, astdb], post_restore: {run: [/bin/echo, up]}"))
        let job = c.jobs[0]
        #expect(job.preBackup == [HookCommand(arguments: ["/bin/sh", "-c", "echo stop"], timeout: 300)])
        #expect(job.postBackup == [HookCommand(arguments: ["/bin/true"], timeout: 120)])
        #expect(
            job.restoreHooks.pre == [
                HookCommand(arguments: ["/bin/true", "one"]),
                HookCommand(arguments: ["/bin/true", "two"], timeout: 30),
            ])
        #expect(job.restoreHooks.post.isEmpty)
        #expect(
            c.sourceRestoreHooks["astdb"]
                == RestoreHooks(
                    pre: [HookCommand(arguments: ["/bin/true", "astdb"])],
                    post: [HookCommand(arguments: ["/bin/echo", "up"])]))
        #expect(c.sourceRestoreHooks["config"] == nil)
    }

    @Test(arguments: [
        ("    pre_backup: /bin/true", "lifeboat.yaml:11: jobs[0].pre_backup: expected an argument vector"),
        (
            "    pre_backup: [fwconsole, stop]",
            "lifeboat.yaml:11: jobs[0].pre_backup: 'fwconsole' must be an absolute path"
        ),
        (
            "    post_backup: [/no/such/program]",
            "lifeboat.yaml:11: jobs[0].post_backup: cannot run /no/such/program: No such file or directory"
        ),
        (
            "    post_backup: {run: [/bin/true], timeout: soon}",
            "lifeboat.yaml:11: jobs[0].post_backup.timeout: expected a duration"
        ),
        ("    post_backup: {command: [/bin/true]}", "lifeboat.yaml:11: jobs[0].post_backup.command: unknown key"),
        (
            "    pre_restore: [[/bin/true], /bin/true]",
            "jobs[0].pre_restore[1]: a list of commands needs each command as a list"
        ),
        (
            "    drill: {schedule: \"0 5 * * sun\", colour: red}",
            "lifeboat.yaml:11: jobs[0].drill.colour: unknown key"
        ),
    ])
    func aBadHookIsNamedWithItsKeyAndLine(text: String, expected: String) throws {
        #expect {
            try load(yaml(job: text))
        } throws: { error in
            "\(error)".contains(expected)
        }
    }

    @Test func aBadSourceHookIsNamedWithItsKeyAndLine() throws {
        #expect {
            try load(yaml(source: "pre_restore: [systemctl, stop, asterisk]"))
        } throws: { error in
            "\(error)".contains("lifeboat.yaml:4: sources[0].pre_restore: 'systemctl' must be an absolute path")
        }
    }

    @Test func aConfigurationWithoutJobsOrSourcesOnlyRestores() throws {
        let c = try load(
            """
            encryption: none
            stores: [{name: nas, kind: local, path: /mnt/nas}]
            """)
        #expect(c.jobs.isEmpty && c.sources.isEmpty)
        #expect(throws: CommandError.self) { try Agent(configuration: c, logger: .init(label: "test")).selectJob(nil) }
        // Sources without a job are still a mistake.
        #expect {
            try load(
                """
                encryption: none
                sources: [{name: astdb, kind: sqlite, path: /var/lib/asterisk/astdb.sqlite3}]
                stores: [{name: nas, kind: local, path: /mnt/nas}]
                """)
        } throws: { error in
            "\(error)".contains("jobs: no job is defined")
        }
    }
}
