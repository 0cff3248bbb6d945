package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"

	"github.com/skyloop-engine/skyloop/sdk"
)

var s3Info = sdk.Info{
	Name:     "s3",
	Version:  "0.1.0",
	Protocol: sdk.ProtocolVersion,
	Capabilities: sdk.Capabilities{
		ConditionalWrites: true, // confirmed or withdrawn by the probe in newBackend
		AtomicReplace:     true,
		RangedReads:       true,
		NestedKeys:        true, // confirmed or withdrawn by the probe too
	},
}

var settingsDecl = []sdk.Setting{
	{Name: "bucket", Required: true, Help: "the bucket that holds the objects; it must exist"},
	{Name: "prefix", Help: "key prefix inside the bucket, e.g. \"skyloop/\" (default: none)"},
	{Name: "region", Help: "the bucket's region (default us-east-1)"},
	{Name: "endpoint", Help: "custom endpoint URL for S3-compatible stores (MinIO, versitygw, R2, …); addressed path-style"},
	{Name: "access_key_id", Help: "explicit access key (default: the standard AWS credential chain)"},
	{Name: "secret_access_key", Secret: true, Help: "explicit secret key, with access_key_id"},
	{Name: "part_size_mb", Help: "multipart upload part size in MiB, at least 5 (default 16)"},
	{Name: "concurrency", Help: "parts uploaded in parallel per object (default 4)"},
	{Name: "sse", Help: "server-side encryption: AES256, aws:kms or aws:kms:dsse (default: the bucket's)"},
	{Name: "sse_kms_key_id", Help: "KMS key for sse = aws:kms or aws:kms:dsse (default: the AWS managed key)"},
}

const (
	defaultRegion   = "us-east-1"
	defaultPartMB   = 16
	defaultParallel = 4
)

type backend struct {
	client *s3.Client
	//lint:ignore SA1019 feature/s3/manager is deprecated for transfermanager (v0.x); it is still maintained and is what issue 5 names
	uploader *manager.Uploader
	bucket   string
	prefix   string
	endpoint string // for messages; "" means AWS
	caps     sdk.Capabilities
	sse      types.ServerSideEncryption
	kmsKey   string

	// suspects are full keys whose Put failed and may have left a
	// multipart upload behind: its abort failed, or the server created it
	// but the answer to CreateMultipartUpload was lost, so its id is
	// unknown. After the next successful Put (the server is reachable
	// again) the uploads of each such key are listed and aborted, except
	// while a Put of that key is in flight here. inflight counts those.
	orphanMu sync.Mutex
	suspects map[string]bool
	inflight map[string]int
}

// newBackend builds the S3 client from settings and probes the bucket: it
// must exist and be writable, and whether it honours conditional writes
// decides Info's ConditionalWrites.
//
// What can be checked offline (unknown or malformed settings, no
// credentials at all) fails with sdk.ErrInvalidSettings, and the game
// refuses to start. Whatever the probe meets online (endpoint unreachable,
// DNS, credentials or bucket refused by the server) fails as retryable:
// the host keeps recording into its spool and configures the sink again
// later, with backoff.
func newBackend(ctx context.Context, settings map[string]string) (sdk.Backend, error) {
	if err := sdk.CheckSettings("s3", settingsDecl, settings); err != nil {
		return nil, err
	}
	partMB, err := intSetting(settings, "part_size_mb", defaultPartMB, 5, 5<<10)
	if err != nil {
		return nil, err
	}
	parallel, err := intSetting(settings, "concurrency", defaultParallel, 1, 256)
	if err != nil {
		return nil, err
	}
	sse, kmsKey := types.ServerSideEncryption(settings["sse"]), settings["sse_kms_key_id"]
	switch sse {
	case "", types.ServerSideEncryptionAes256:
		if kmsKey != "" {
			return nil, fmt.Errorf("s3: %w: sse_kms_key_id needs sse = aws:kms or aws:kms:dsse", sdk.ErrInvalidSettings)
		}
	case types.ServerSideEncryptionAwsKms, types.ServerSideEncryptionAwsKmsDsse:
	default:
		return nil, fmt.Errorf("s3: %w: sse = %q, want AES256, aws:kms or aws:kms:dsse", sdk.ErrInvalidSettings, sse)
	}
	region := settings["region"]
	if region == "" {
		region = defaultRegion
	}
	ak, sk := settings["access_key_id"], settings["secret_access_key"]
	if (ak == "") != (sk == "") {
		return nil, fmt.Errorf("s3: %w: access_key_id and secret_access_key go together (set both, or neither for the AWS credential chain)", sdk.ErrInvalidSettings)
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(region),
		config.WithLogger(logging.Nop{}), // the SDK's own warnings would clutter the host's log
		config.WithRetryer(func() aws.Retryer {
			// The standard retryer (backoff on throttling, 5xx, network
			// errors) plus S3's 409 for concurrent conditional writes.
			return retry.AddWithErrorCodes(retry.NewStandard(), "ConditionalRequestConflict")
		}),
	}
	if ak != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(ak, sk, "")))
	} else if !credentialSourceConfigured() {
		return nil, fmt.Errorf("s3: %w: no credentials: set access_key_id and secret_access_key in the sink's [sink.settings], "+
			"or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment, or an AWS profile (~/.aws/credentials, AWS_PROFILE)", sdk.ErrInvalidSettings)
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: %w: loading AWS configuration: %v", sdk.ErrInvalidSettings, err)
	}
	endpoint := settings["endpoint"]
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true
		}
	})
	b := &backend{
		client: client,
		//lint:ignore SA1019 see backend.uploader
		uploader: manager.NewUploader(client, func(u *manager.Uploader) {
			u.PartSize = int64(partMB) << 20
			u.Concurrency = parallel
		}),
		bucket:   settings["bucket"],
		prefix:   settings["prefix"],
		endpoint: endpoint,
		caps:     s3Info.Capabilities,
		sse:      sse,
		kmsKey:   kmsKey,
	}
	if err := b.probe(ctx); err != nil {
		return nil, sdk.RetryableError("configure", "", err)
	}
	return b, nil
}

// credentialSourceConfigured reports whether the AWS credential chain has
// anything to read offline: keys or a profile in the environment, web
// identity or container credentials, or shared config files. (An EC2
// instance role alone is not seen: name it in a profile with
// credential_source = Ec2InstanceMetadata.)
func credentialSourceConfigured() bool {
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		if os.Getenv(v) != "" {
			return true
		}
	}
	files := []string{config.DefaultSharedCredentialsFilename(), config.DefaultSharedConfigFilename()}
	for _, v := range []string{"AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"} {
		if f := os.Getenv(v); f != "" {
			files = append(files, f)
		}
	}
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			return true
		}
	}
	return false
}

func intSetting(settings map[string]string, name string, def, lo, hi int) (int, error) {
	v := settings[name]
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("s3: %w: %s = %q, want an integer from %d to %d", sdk.ErrInvalidSettings, name, v, lo, hi)
	}
	return n, nil
}

// where names the store for messages.
func (b *backend) where() string {
	if b.endpoint != "" {
		return b.endpoint
	}
	return "AWS S3"
}

// probe checks, with clear errors, that the bucket exists and is writable,
// whether a second If-None-Match: * write of the same key is refused, and
// whether a key below an object's key can be stored (NestedKeys).
func (b *backend) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	// One attempt per call: an unreachable store is reported at once, and
	// the host retries the whole configuration with its own backoff.
	once := func(o *s3.Options) { o.RetryMaxAttempts = 1 }
	// ListObjectsV2 rather than HeadBucket: its error responses have a
	// body, so a rejected key and a missing bucket can be told apart.
	if _, err := b.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b.bucket, Prefix: &b.prefix, MaxKeys: aws.Int32(1)}, once); err != nil {
		return b.configError("checking bucket", err)
	}
	key := b.prefix + ".skyloop-probe-" + randHex()
	put := func() error {
		in := &s3.PutObjectInput{Bucket: &b.bucket, Key: &key, Body: strings.NewReader("probe"), IfNoneMatch: aws.String("*")}
		b.encrypt(in)
		_, err := b.client.PutObject(ctx, in, once)
		return err
	}
	if err := put(); err != nil {
		if status(err) != http.StatusNotImplemented {
			return b.configError("writing probe object", err)
		}
		// Conditional writes not implemented: check plain writability.
		b.caps.ConditionalWrites = false
		in := &s3.PutObjectInput{Bucket: &b.bucket, Key: &key, Body: strings.NewReader("probe")}
		b.encrypt(in)
		if _, err := b.client.PutObject(ctx, in); err != nil {
			return b.configError("writing probe object", err)
		}
	} else {
		err := put()
		switch {
		case err == nil:
			b.caps.ConditionalWrites = false // If-None-Match ignored
		case status(err) == http.StatusPreconditionFailed:
			// honoured
		case status(err) == http.StatusNotImplemented:
			b.caps.ConditionalWrites = false
		default:
			b.deleteProbe(key)
			return b.configError("probing conditional writes", err)
		}
	}
	// A key below the probe object: stores on a file system (versitygw's
	// posix backend, MinIO) refuse it with 409 Conflict.
	nested := key + "/nested"
	in := &s3.PutObjectInput{Bucket: &b.bucket, Key: &nested, Body: strings.NewReader("probe")}
	b.encrypt(in)
	_, err := b.client.PutObject(ctx, in, once)
	switch {
	case err == nil:
		if _, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.bucket, Key: &nested}); err != nil {
			b.deleteProbe(key)
			return b.configError("deleting probe object", err)
		}
	case status(err) == http.StatusConflict:
		b.caps.NestedKeys = false
	default:
		b.deleteProbe(key)
		return b.configError("probing nested keys", err)
	}
	if _, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.bucket, Key: &key}); err != nil {
		return b.configError("deleting probe object", err)
	}
	return nil
}

// encrypt sets the configured server-side encryption on in.
func (b *backend) encrypt(in *s3.PutObjectInput) {
	if b.sse != "" {
		in.ServerSideEncryption = b.sse
	}
	if b.kmsKey != "" {
		in.SSEKMSKeyId = aws.String(b.kmsKey)
	}
}

func (b *backend) deleteProbe(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.bucket, Key: &key})
}

// configError turns a probe failure into a message that says what to fix.
func (b *backend) configError(what string, err error) error {
	code, st := errorCode(err), status(err)
	var msg string
	switch {
	case code == "RequestTimeTooSkewed":
		msg = "clock skew: this machine's clock differs too much from the server's; synchronise it"
	case credentialCodes[code]:
		msg = "credentials rejected (" + code + "): check access_key_id / secret_access_key or the AWS credential chain"
	case st == http.StatusForbidden:
		msg = "credentials rejected or access denied to bucket " + b.bucket + ": check the keys and the bucket's permissions"
	case code == "NoSuchBucket" || st == http.StatusNotFound:
		msg = "bucket " + b.bucket + " does not exist at " + b.where()
	case st == http.StatusMovedPermanently || code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed":
		msg = "bucket " + b.bucket + " is in another region: set region"
	case st == 0 && !errors.Is(err, context.Canceled):
		msg = "cannot reach endpoint " + b.where()
	default:
		msg = what + " failed"
	}
	return fmt.Errorf("s3: %s: %w", msg, err)
}

func randHex() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// status is the HTTP status of a failed call, 0 when none came back.
func status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// credentialCodes are the error codes of rejected credentials; versitygw
// answers an unknown access key with a 404 XAdminUserNotFound.
var credentialCodes = map[string]bool{
	"InvalidAccessKeyId": true, "SignatureDoesNotMatch": true, "InvalidToken": true,
	"ExpiredToken": true, "TokenRefreshRequired": true, "XAdminUserNotFound": true,
}

// classify wraps an SDK error in the sdk's error types.
func (b *backend) classify(op, key string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return sdk.PermanentError(op, key, err)
	}
	code, st := errorCode(err), status(err)
	switch {
	case credentialCodes[code]:
		return sdk.PermanentError(op, key, fmt.Errorf("credentials rejected (%s): %w", code, err))
	case code == "NoSuchBucket":
		return sdk.PermanentError(op, key, fmt.Errorf("bucket %s does not exist: %w", b.bucket, err))
	case st == http.StatusNotFound || code == "NoSuchKey":
		return sdk.NotFound(op, key)
	case st == http.StatusPreconditionFailed:
		return sdk.PreconditionFailed(op, key, err.Error())
	case code == "RequestTimeTooSkewed":
		return sdk.PermanentError(op, key, fmt.Errorf("clock skew: %w", err))
	case st == http.StatusForbidden:
		return sdk.PermanentError(op, key, fmt.Errorf("credentials rejected or access denied: %w", err))
	case code == "ConditionalRequestConflict", st == http.StatusTooManyRequests, st >= 500, code == "SlowDown", code == "Throttling":
		return sdk.RetryableError(op, key, err)
	case st == 0:
		return sdk.RetryableError(op, key, err) // network: no response
	}
	return sdk.PermanentError(op, key, err)
}

func (b *backend) Info(ctx context.Context) (sdk.Info, error) {
	info := s3Info
	info.Capabilities = b.caps
	return info, nil
}

// guardReader fails with ctx's error once ctx is done, counts the bytes
// and keeps the reader's own error, so that a failing source is reported as
// such rather than as a network failure.
type guardReader struct {
	ctx  context.Context
	r    io.Reader
	mu   sync.Mutex
	n    int64
	rerr error
}

func (g *guardReader) Read(p []byte) (int, error) {
	if err := g.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := g.r.Read(p)
	g.mu.Lock()
	g.n += int64(n)
	if err != nil && err != io.EOF {
		g.rerr = err
	}
	g.mu.Unlock()
	return n, err
}

func (b *backend) Put(ctx context.Context, key string, r io.Reader, opts sdk.PutOptions) (sdk.ObjectInfo, error) {
	if err := sdk.ValidateKey(key); err != nil {
		return sdk.ObjectInfo{}, err
	}
	g := &guardReader{ctx: ctx, r: r}
	b.track(b.prefix+key, 1)
	defer b.track(b.prefix+key, -1)
	// CRC32C of every part (or the single object), checked by the server.
	in := &s3.PutObjectInput{Bucket: &b.bucket, Key: aws.String(b.prefix + key), Body: g, ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c}
	if len(opts.Metadata) > 0 {
		in.Metadata = opts.Metadata
	}
	b.encrypt(in)
	if opts.IfNoneMatch {
		in.IfNoneMatch = aws.String("*")
	}
	if opts.IfMatch != "" {
		in.IfMatch = aws.String(opts.IfMatch)
	}
	//lint:ignore SA1019 see backend.uploader
	out, err := b.uploader.Upload(ctx, in)
	if err != nil {
		// The manager aborts a failed multipart upload with the call's
		// context, which fails when that context was cancelled: abort
		// again on one that is not, so no parts are left behind.
		var mf manager.MultiUploadFailure
		if !errors.As(err, &mf) || mf.UploadID() == "" || b.abort(ctx, *in.Key, mf.UploadID()) != nil {
			b.suspect(*in.Key)
		}
		g.mu.Lock()
		rerr := g.rerr
		g.mu.Unlock()
		switch {
		case ctx.Err() != nil:
			return sdk.ObjectInfo{}, sdk.PermanentError("put", key, fmt.Errorf("%w (%v)", ctx.Err(), err))
		case rerr != nil:
			return sdk.ObjectInfo{}, sdk.PermanentError("put", key, fmt.Errorf("reading the payload: %w", rerr))
		case opts.IfMatch != "" && status(err) == http.StatusNotFound && errorCode(err) != "NoSuchBucket":
			return sdk.ObjectInfo{}, sdk.PreconditionFailed("put", key, "no object to match")
		case status(err) == 0 && (opts.IfNoneMatch || opts.IfMatch != "") && b.preconditionFails(ctx, key, opts):
			// A store that refuses the precondition before reading the
			// body closes the connection under a large upload: the client
			// sees a reset, not the 412. Retrying would meet it again.
			return sdk.ObjectInfo{}, sdk.PreconditionFailed("put", key, fmt.Sprintf("the store closed the upload, and the precondition does not hold now (%v)", err))
		}
		return sdk.ObjectInfo{}, b.classify("put", key, err)
	}
	b.abortOrphans(ctx)
	g.mu.Lock()
	n := g.n
	g.mu.Unlock()
	return sdk.ObjectInfo{Key: key, Size: n, ETag: aws.ToString(out.ETag), Modified: time.Now().UTC(), Metadata: opts.Metadata}, nil
}

// preconditionFails reports whether a conditional Put of key could not
// succeed now: for IfNoneMatch an object exists, for IfMatch there is none
// or it has another ETag. Unknown (the store unreachable) counts as no.
func (b *backend) preconditionFails(ctx context.Context, key string, opts sdk.PutOptions) bool {
	info, err := b.Stat(ctx, key)
	switch {
	case err == nil:
		return opts.IfNoneMatch || (opts.IfMatch != "" && info.ETag != opts.IfMatch)
	case errors.Is(err, sdk.ErrNotFound):
		return opts.IfMatch != ""
	}
	return false
}

// abort ends a multipart upload. NoSuchUpload (the manager's own abort
// went through) counts as done; any other error is returned. A part
// upload still in flight on the server when the abort lands may complete
// after it and leave the upload behind (S3's documentation says to abort
// again), so the upload is looked up after each abort and aborted again
// until it is gone.
func (b *backend) abort(ctx context.Context, key, id string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	gone := func(err error) bool { return errorCode(err) == "NoSuchUpload" || status(err) == http.StatusNotFound }
	for attempt := 0; ; attempt++ {
		_, err := b.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &b.bucket, Key: &key, UploadId: &id})
		if err != nil && !gone(err) {
			return err
		}
		if attempt == 5 {
			return nil // aborted five times; a later Put's orphan sweep is the backstop
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(50<<attempt) * time.Millisecond):
		}
		_, err = b.client.ListParts(ctx, &s3.ListPartsInput{Bucket: &b.bucket, Key: &key, UploadId: &id, MaxParts: aws.Int32(1)})
		if err != nil && gone(err) {
			return nil
		}
	}
}

// track counts Puts of a full key in flight (delta +1 at the start, -1 at
// the end).
func (b *backend) track(key string, delta int) {
	b.orphanMu.Lock()
	defer b.orphanMu.Unlock()
	if b.inflight == nil {
		b.inflight = map[string]int{}
	}
	if b.inflight[key] += delta; b.inflight[key] == 0 {
		delete(b.inflight, key)
	}
}

// suspect remembers a full key whose failed Put may have left an upload.
func (b *backend) suspect(key string) {
	b.orphanMu.Lock()
	defer b.orphanMu.Unlock()
	if b.suspects == nil {
		b.suspects = map[string]bool{}
	}
	b.suspects[key] = true
}

// abortOrphans aborts the multipart uploads left by failed Puts; the server
// has just answered a Put, so it is reachable again. A key whose uploads
// cannot be listed or aborted stays suspect for the next time.
func (b *backend) abortOrphans(ctx context.Context) {
	b.orphanMu.Lock()
	var todo []string
	for key := range b.suspects {
		if b.inflight[key] == 0 { // a live upload of it must not be aborted
			todo = append(todo, key)
			delete(b.suspects, key)
		}
	}
	b.orphanMu.Unlock()
	for _, key := range todo {
		if err := b.abortUploads(ctx, key); err != nil {
			b.suspect(key)
		}
	}
}

// abortUploads aborts every multipart upload of exactly key.
func (b *backend) abortUploads(ctx context.Context, key string) error {
	in := &s3.ListMultipartUploadsInput{Bucket: &b.bucket, Prefix: &key}
	for {
		out, err := b.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return err
		}
		for _, u := range out.Uploads {
			if aws.ToString(u.Key) != key {
				continue // a longer key with this one as prefix
			}
			if err := b.abort(ctx, key, aws.ToString(u.UploadId)); err != nil {
				return err
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

func (b *backend) Get(ctx context.Context, key string, w io.Writer, opts sdk.GetOptions) (sdk.ObjectInfo, error) {
	if err := sdk.ValidateKey(key); err != nil {
		return sdk.ObjectInfo{}, err
	}
	if opts.Offset < 0 {
		_, _, err := sdk.ResolveRange(key, 0, opts)
		return sdk.ObjectInfo{}, err
	}
	toEnd := opts.Length < 0 || (opts.Length == 0 && opts.Offset == 0)
	if !toEnd && opts.Length == 0 {
		// An empty range: only the object's existence and size matter.
		info, err := b.Stat(ctx, key)
		if err == nil && opts.Offset > info.Size {
			err = beyondEnd(key, opts.Offset, info.Size)
		}
		return info, err
	}
	in := &s3.GetObjectInput{Bucket: &b.bucket, Key: aws.String(b.prefix + key)}
	switch {
	case toEnd && opts.Offset == 0:
	case toEnd || opts.Length > math.MaxInt64-opts.Offset:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", opts.Offset))
	default:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", opts.Offset, opts.Offset+opts.Length-1))
	}
	out, err := b.client.GetObject(ctx, in)
	if err != nil {
		if status(err) == http.StatusRequestedRangeNotSatisfiable {
			// S3 refuses a range starting at the end; an empty read there is
			// fine, past it is not.
			info, serr := b.Stat(ctx, key)
			if serr != nil {
				return sdk.ObjectInfo{}, serr
			}
			if opts.Offset == info.Size {
				return info, nil
			}
			return sdk.ObjectInfo{}, beyondEnd(key, opts.Offset, info.Size)
		}
		return sdk.ObjectInfo{}, b.classify("get", key, err)
	}
	defer out.Body.Close()
	info := sdk.ObjectInfo{
		Key:      key,
		Size:     aws.ToInt64(out.ContentLength),
		ETag:     aws.ToString(out.ETag),
		Modified: aws.ToTime(out.LastModified).UTC(),
		Metadata: out.Metadata,
	}
	if cr := aws.ToString(out.ContentRange); cr != "" {
		if i := strings.LastIndexByte(cr, '/'); i >= 0 {
			if total, err := strconv.ParseInt(cr[i+1:], 10, 64); err == nil {
				info.Size = total
			}
		}
	}
	if _, err := io.Copy(w, out.Body); err != nil {
		if ctx.Err() != nil {
			return info, sdk.PermanentError("get", key, ctx.Err())
		}
		return info, sdk.RetryableError("get", key, fmt.Errorf("reading the object: %w", err))
	}
	return info, nil
}

func beyondEnd(key string, off, size int64) error {
	_, _, err := sdk.ResolveRange(key, size, sdk.GetOptions{Offset: off})
	return err
}

func (b *backend) Stat(ctx context.Context, key string) (sdk.ObjectInfo, error) {
	if err := sdk.ValidateKey(key); err != nil {
		return sdk.ObjectInfo{}, err
	}
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: aws.String(b.prefix + key)})
	if err != nil {
		return sdk.ObjectInfo{}, b.classify("stat", key, err)
	}
	return sdk.ObjectInfo{
		Key:      key,
		Size:     aws.ToInt64(out.ContentLength),
		ETag:     aws.ToString(out.ETag),
		Modified: aws.ToTime(out.LastModified).UTC(),
		Metadata: out.Metadata,
	}, nil
}

func (b *backend) List(ctx context.Context, prefix string, fn func(sdk.ObjectInfo) error) error {
	if err := sdk.ValidatePrefix(prefix); err != nil {
		return err
	}
	p := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{Bucket: &b.bucket, Prefix: aws.String(b.prefix + prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return b.classify("list", prefix, err)
		}
		for _, o := range page.Contents {
			k, ok := strings.CutPrefix(aws.ToString(o.Key), b.prefix)
			if !ok || sdk.ValidateKey(k) != nil {
				continue // not ours (e.g. a probe object or a foreign name)
			}
			if err := fn(sdk.ObjectInfo{
				Key:      k,
				Size:     aws.ToInt64(o.Size),
				ETag:     aws.ToString(o.ETag),
				Modified: aws.ToTime(o.LastModified).UTC(),
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *backend) Delete(ctx context.Context, key string) error {
	if err := sdk.ValidateKey(key); err != nil {
		return err
	}
	_, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.bucket, Key: aws.String(b.prefix + key)})
	if err != nil && status(err) != http.StatusNotFound || errorCode(err) == "NoSuchBucket" {
		return b.classify("delete", key, err)
	}
	return nil
}
