// Command skyloop-plugin-s3 is the S3 sink: a plugin process (sdk.Serve)
// that stores skyloop's blobs as objects in one bucket of Amazon S3 or any
// S3-compatible store (MinIO, versitygw, R2, …), under an optional prefix.
//
// Where it sits in the flow: the engine's sync workers hand it segments and
// saves through the sdk; it is dumb storage at the end of that path.
// Uploads go through the SDK's upload manager (multipart above part_size_mb,
// aborted on failure); preconditions are S3's conditional writes
// (If-None-Match: *, If-Match: ETag), HTTP 412 becoming
// sdk.ErrPreconditionFailed. At configure time a probe checks that the
// bucket exists, is writable and honours conditional writes; Info reports
// ConditionalWrites false where it does not.
//
// Settings: bucket (required), prefix, region (default us-east-1),
// endpoint (a custom endpoint, addressed path-style), access_key_id and
// secret_access_key (optional; otherwise the standard AWS credential chain),
// part_size_mb (default 16), concurrency (default 4).
package main
