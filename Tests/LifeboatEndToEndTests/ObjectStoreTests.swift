import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `lifeboat backup` to the S3 server of `packaging/test-servers.sh` (SeaweedFS) with a small part
/// size, so the archive goes up as a parallel multipart upload; boto3 fetches it independently and
/// stock `age` and `tar` restore it.
@Suite struct ObjectStoreTests {
    let servers: TestServers
    let prefix = "e2e-" + UUID().uuidString.prefix(8).lowercased()

    init() throws {
        servers = try TestServers.load()
    }

    /// Adds an S3 store (`endpointKey`: direct or through the fault proxy) and about 12 MiB of
    /// incompressible voicemail, so the archive is over the 5 MiB threshold.
    func addS3Store(to f: DemoFixture, endpointKey: String = "S3_ENDPOINT") throws {
        let stores = """
            stores:
              - {name: s3, kind: s3, endpoint: "\(try servers[endpointKey])", region: \(try servers["S3_REGION"]),
                 bucket: \(try servers["S3_BUCKET"]), path_style: true, prefix: \(prefix),
                 access_key_id: \(try servers["S3_ACCESS_KEY_ID"]),
                 secret_access_key: {secret_file: \(try servers["S3_SECRET_ACCESS_KEY_FILE"])},
                 multipart_threshold: 5MiB, part_size: 5MiB, concurrency: 3, allow_insecure: true}

            """
        try f.editConfig {
            $0.replacingOccurrences(of: "stores:\n", with: stores)
                .replacingOccurrences(of: "stores: [local]}", with: "stores: [local, s3]}")
        }
        let folder = f.pbx + "/var/spool/asterisk/voicemail/default/1999/INBOX"
        let noise = try Harness.shell(
            "mkdir -p '\(folder)' && head -c \(12 << 20) /dev/urandom > '\(folder)/msg9999.wav'")
        #expect(noise.status == 0, "\(noise.output)")
    }

    /// Runs Python with boto3 (the test servers' virtualenv) against the S3 server.
    func boto3(_ script: String) throws -> Harness.Result {
        let setup = """
            import boto3, sys
            from botocore.config import Config
            s3 = boto3.client("s3", endpoint_url="\(try servers["S3_ENDPOINT"])", region_name="\(try servers["S3_REGION"])",
                aws_access_key_id="\(try servers["S3_ACCESS_KEY_ID"])",
                aws_secret_access_key=open("\(try servers["S3_SECRET_ACCESS_KEY_FILE"])").read().strip(),
                config=Config(s3={"addressing_style": "path"}))
            bucket = "\(try servers["S3_BUCKET"])"
            prefix = "\(prefix)/"

            """
        let file = NSTemporaryDirectory() + "lifeboat-boto3-\(UUID().uuidString).py"
        try (setup + script).write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        return try Harness.shell("env -u AWS_CA_BUNDLE '\(try servers["TEST_PYTHON"])' '\(file)'")
    }

    func cleanUp() {
        _ = try? boto3(
            """
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for o in page.get("Contents", []):
                    s3.delete_object(Bucket=bucket, Key=o["Key"])
            for u in s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix).get("Uploads", []):
                s3.abort_multipart_upload(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"])
            """)
    }

    @Test func backupToS3GoesUpInPartsAndOpensWithBoto3AgeAndTar() throws {
        defer { cleanUp() }
        let f = try DemoFixture()
        try addS3Store(to: f)
        let backup = try f.lifeboat("backup", "--json")
        #expect(backup.status == 0, "\(backup.output)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(backup.stdout.utf8)) as? [String: Any])
        let archive = try #require(json["archive"] as? String)
        let stores = try #require(json["stores"] as? [[String: Any]])
        #expect(stores.map { $0["ok"] as? Bool } == [true, true])
        let verification = try #require(stores[1]["verification"] as? String)
        #expect(verification.hasSuffix("parts with Content-MD5, multipart ETag, size"), "\(verification)")

        let target = f.dir + "/via-boto3"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        let fetch = try boto3(
            """
            key = prefix + "\(archive)"
            head = s3.head_object(Bucket=bucket, Key=key)
            parts = -(-head["ContentLength"] // (5 << 20))
            assert parts >= 3 and head["ETag"].strip('"').endswith("-%d" % parts), (head["ETag"], parts)
            s3.download_file(bucket, key, "\(target)/a.age")
            """)
        #expect(fetch.status == 0, "\(fetch.output)")
        let restore = try Harness.shell(
            "age -d -i '\(f.key)' '\(target)/a.age' | tar --zstd -xf - -C '\(target)' "
                + "&& cd '\(target)' && sha256sum -c --quiet lifeboat/SHA256SUMS")
        #expect(restore.status == 0, "\(restore.output)")

        let list = try f.lifeboat("snapshots", "--store", "s3", "--json")
        #expect(list.status == 0 && list.stdout.contains(json["snapshot"] as! String), "\(list.output)")
        let verify = try f.lifeboat("verify", "--latest", "--store", "s3", "--deep", "--identity", f.key)
        #expect(verify.status == 0, "\(verify.output)")
        let restored = f.dir + "/restore-s3"
        let lifeboatRestore = try f.lifeboat(
            "restore", "--latest", "--store", "s3", "--identity", f.key, "--target", restored)
        #expect(lifeboatRestore.status == 0, "\(lifeboatRestore.output)")
    }

    @Test func aBackupKilledMidUploadLeavesNoObjectAndTheNextRunAbortsTheUpload() throws {
        defer { cleanUp() }
        let f = try DemoFixture()
        try addS3Store(to: f, endpointKey: "S3_PROXY_ENDPOINT")
        let proxy = FaultProxy(endpoint: try servers["S3_PROXY_ENDPOINT"], scope: prefix + "/")
        // Part 2 keeps failing: the run is killed while it waits to try again, mid-upload.
        try proxy.add([["method": "PUT", "query": "partNumber=2&", "times": 1000, "status": 503]])

        let process = try Harness.spawn(["backup", "--config", f.config])
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, try !proxy.log().contains(where: { $0.query.contains("partNumber=2&") }) {
            usleep(100_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()

        let stale = try boto3(
            """
            objects = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
            assert not [o for o in objects if o["Key"].endswith(".age")], objects
            uploads = s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix).get("Uploads", [])
            assert len(uploads) == 1, uploads
            """)
        #expect(stale.status == 0, "\(stale.output)")

        try proxy.clear()
        let again = try f.lifeboat("backup")
        #expect(again.status == 0, "\(again.output)")
        let after = try boto3(
            """
            uploads = s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix).get("Uploads", [])
            assert uploads == [], uploads
            objects = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
            assert len([o for o in objects if o["Key"].endswith(".age")]) == 1, objects
            """)
        #expect(after.status == 0, "\(after.output)")
    }

    @Test func backupToGCSGoesUpInChunksAndOpensWithCurlAgeAndTar() throws {
        let f = try DemoFixture()
        let stores = """
            stores:
              - {name: gcs, kind: gcs, bucket: \(try servers["GCS_BUCKET"]), prefix: \(prefix),
                 endpoint: "\(try servers["GCS_ENDPOINT"])", allow_insecure: true, chunk_size: 1MiB,
                 credentials_file: \(try servers["GCS_CREDENTIALS_FILE"])}

            """
        try f.editConfig {
            $0.replacingOccurrences(of: "stores:\n", with: stores)
                .replacingOccurrences(of: "stores: [local]}", with: "stores: [local, gcs]}")
        }
        let backup = try f.lifeboat("backup", "--json")
        #expect(backup.status == 0, "\(backup.output)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(backup.stdout.utf8)) as? [String: Any])
        let archive = try #require(json["archive"] as? String)
        let outcomes = try #require(json["stores"] as? [[String: Any]])
        #expect(outcomes.map { $0["ok"] as? Bool } == [true, true])
        #expect((outcomes[1]["verification"] as? String)?.contains("crc32c") == true, "\(outcomes[1])")

        // Fetched straight from the emulator by curl, past Lifeboat's token handling.
        let target = f.dir + "/via-curl"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        let object = "\(prefix)/\(archive)".addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        let restore = try Harness.shell(
            "curl -sSf '\(try servers["GCS_EMULATOR_ENDPOINT"])/storage/v1/b/\(try servers["GCS_BUCKET"])/o/\(object)?alt=media' "
                + "-o '\(target)/a.age' && age -d -i '\(f.key)' '\(target)/a.age' | tar --zstd -xf - -C '\(target)' "
                + "&& cd '\(target)' && sha256sum -c --quiet lifeboat/SHA256SUMS")
        #expect(restore.status == 0, "\(restore.output)")
        let verify = try f.lifeboat("verify", "--latest", "--store", "gcs", "--deep", "--identity", f.key)
        #expect(verify.status == 0, "\(verify.output)")
        let list = try f.lifeboat("snapshots", "--store", "gcs", "--json")
        #expect(list.status == 0 && list.stdout.contains(json["snapshot"] as! String), "\(list.output)")
        // Everything under the prefix is removed on the emulator directly.
        _ = try Harness.shell(
            "for o in $(curl -s '\(try servers["GCS_EMULATOR_ENDPOINT"])/storage/v1/b/\(try servers["GCS_BUCKET"])/o?prefix=\(prefix)/' "
                + "| \(try servers["TEST_PYTHON"]) -c 'import json,sys,urllib.parse; [print(urllib.parse.quote(i[\"name\"], safe=\"\")) for i in json.load(sys.stdin).get(\"items\", [])]'); "
                + "do curl -s -X DELETE '\(try servers["GCS_EMULATOR_ENDPOINT"])/storage/v1/b/\(try servers["GCS_BUCKET"])/o/'$o; done")
    }

    @Test func aWrongSecretFailsTheStoreWithAClearMessage() throws {
        defer { cleanUp() }
        let f = try DemoFixture()
        try addS3Store(to: f)
        let wrong = f.dir + "/wrong.secret"
        try "not-the-secret".write(toFile: wrong, atomically: true, encoding: .utf8)
        chmod(wrong, 0o600)
        let right = try servers["S3_SECRET_ACCESS_KEY_FILE"]
        try f.editConfig { $0.replacingOccurrences(of: right, with: wrong) }
        let backup = try f.lifeboat("backup", "--json")
        #expect(backup.status == 2, "\(backup.output)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(backup.stdout.utf8)) as? [String: Any])
        let stores = try #require(json["stores"] as? [[String: Any]])
        let error = try #require(stores[1]["error"] as? String)
        #expect(error.contains("SignatureDoesNotMatch") && error.contains("secret_access_key"), "\(error)")
        #expect(!error.contains("not-the-secret"))
    }
}
