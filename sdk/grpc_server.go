package sdk

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	storagev1 "github.com/skyloop-engine/skyloop/sdk/proto/v1"
)

// grpcServer adapts a Plugin to the storagev1 service, in the plugin
// process. Configure validates the settings and builds the Backend; every
// other call fails until then. Keys are validated here too, so a host that
// skipped validation still cannot walk a backend out of its root.
type grpcServer struct {
	storagev1.UnimplementedStorageServer
	p *Plugin

	mu      sync.Mutex
	backend Backend
}

func newGRPCServer(p *Plugin) *grpcServer { return &grpcServer{p: p} }

var errNotConfigured = errors.New("plugin not configured: the host must call Configure with the sink's settings first")

func (s *grpcServer) get(op string) (Backend, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.backend == nil {
		return nil, toStatus(PermanentError(op, "", errNotConfigured))
	}
	return s.backend, nil
}

func (s *grpcServer) Configure(ctx context.Context, req *storagev1.ConfigureRequest) (*storagev1.ConfigureResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.backend != nil {
		return nil, toStatus(PermanentError("configure", "", errors.New("plugin already configured")))
	}
	settings := req.GetSettings()
	if settings == nil {
		settings = map[string]string{}
	}
	if err := CheckSettings(s.p.Info.Name, s.p.Settings, settings); err != nil {
		return nil, toStatus(err)
	}
	if s.p.New == nil {
		return nil, toStatus(PermanentError("configure", "", fmt.Errorf("plugin %s has no New function", s.p.Info.Name)))
	}
	b, err := s.p.New(ctx, settings)
	if err != nil {
		return nil, toStatus(fmt.Errorf("plugin %s: configure: %w", s.p.Info.Name, err))
	}
	if b == nil {
		return nil, toStatus(PermanentError("configure", "", fmt.Errorf("plugin %s: New returned a nil Backend", s.p.Info.Name)))
	}
	s.backend = ValidatingBackend(b)
	return &storagev1.ConfigureResponse{}, nil
}

func (s *grpcServer) Info(ctx context.Context, _ *storagev1.InfoRequest) (*storagev1.InfoResponse, error) {
	b, err := s.get("info")
	if err != nil {
		return nil, err
	}
	info, err := b.Info(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	if info.Protocol == 0 {
		info.Protocol = ProtocolVersion
	}
	return infoToWire(info), nil
}

// putMessage is a message of a Put or PutShared stream; the first one of
// either must carry the header.
type putMessage interface{ GetHeader() *storagev1.PutHeader }

// recvPutHeader reads the first message of a Put-like stream and returns
// it with its header (key validated), or the error status to end the call.
func recvPutHeader[M putMessage](recv func() (M, error), rpc string) (first M, h *storagev1.PutHeader, err error) {
	first, err = recv()
	if err != nil {
		return first, nil, err
	}
	h = first.GetHeader()
	if h == nil {
		return first, nil, toStatus(PermanentError("put", "", fmt.Errorf("protocol error: the first message of a %s stream must carry its header", rpc)))
	}
	if err := ValidateKey(h.Key); err != nil {
		return first, nil, toStatus(err)
	}
	return first, h, nil
}

func (s *grpcServer) Put(stream storagev1.Storage_PutServer) error {
	b, err := s.get("put")
	if err != nil {
		return err
	}
	_, h, err := recvPutHeader(stream.Recv, "Put")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()

	// The receiver goroutine feeds the pipe until the host half-closes the
	// stream (EOF) or fails. It stops when Put closes the read end or when
	// the stream ends (returning from this handler ends the stream, which
	// unblocks Recv).
	pr, pw := io.Pipe()
	go func() {
		for {
			m, err := stream.Recv()
			if err == io.EOF {
				pw.Close()
				return
			}
			if err != nil {
				pw.CloseWithError(fmt.Errorf("put %s: receiving from host: %w", h.Key, err))
				return
			}
			if m.GetHeader() != nil {
				pw.CloseWithError(errors.New("protocol error: second header in a Put stream"))
				cancel()
				return
			}
			if _, err := pw.Write(m.GetChunk()); err != nil {
				return // the backend stopped reading
			}
		}
	}()
	opts := PutOptions{IfMatch: h.IfMatch, IfNoneMatch: h.IfNoneMatch, Size: h.Size, Metadata: h.Metadata}
	info, err := b.Put(ctx, h.Key, pr, opts)
	pr.CloseWithError(errors.New("put finished"))
	if err != nil {
		return toStatus(err)
	}
	return stream.SendAndClose(objectToWire(info))
}

// chunkWriter sends what a backend writes as Get chunks of at most
// ChunkSize bytes.
type chunkWriter struct {
	stream storagev1.Storage_GetServer
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		c := min(len(p), ChunkSize)
		if err := w.stream.Send(&storagev1.GetResponse{Msg: &storagev1.GetResponse_Chunk{Chunk: p[:c]}}); err != nil {
			return n, err
		}
		n += c
		p = p[c:]
	}
	return n, nil
}

// Get streams the object's bytes as chunks, then one message with the
// ObjectInfo that Backend.Get returned (a backend learns it while reading,
// so it comes last; the host accepts it in any position).
func (s *grpcServer) Get(req *storagev1.GetRequest, stream storagev1.Storage_GetServer) error {
	b, err := s.get("get")
	if err != nil {
		return err
	}
	if err := ValidateKey(req.Key); err != nil {
		return toStatus(err)
	}
	bw := bufio.NewWriterSize(&chunkWriter{stream: stream}, ChunkSize)
	info, err := b.Get(stream.Context(), req.Key, bw, GetOptions{Offset: req.Offset, Length: req.Length})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return toStatus(err)
	}
	return stream.Send(&storagev1.GetResponse{Msg: &storagev1.GetResponse_Info{Info: objectToWire(info)}})
}

func (s *grpcServer) Stat(ctx context.Context, req *storagev1.StatRequest) (*storagev1.ObjectInfo, error) {
	b, err := s.get("stat")
	if err != nil {
		return nil, err
	}
	if err := ValidateKey(req.Key); err != nil {
		return nil, toStatus(err)
	}
	info, err := b.Stat(ctx, req.Key)
	if err != nil {
		return nil, toStatus(err)
	}
	return objectToWire(info), nil
}

func (s *grpcServer) List(req *storagev1.ListRequest, stream storagev1.Storage_ListServer) error {
	b, err := s.get("list")
	if err != nil {
		return err
	}
	if err := ValidatePrefix(req.Prefix); err != nil {
		return toStatus(err)
	}
	err = b.List(stream.Context(), req.Prefix, func(o ObjectInfo) error {
		return stream.Send(objectToWire(o))
	})
	return toStatus(err)
}

func (s *grpcServer) Delete(ctx context.Context, req *storagev1.DeleteRequest) (*storagev1.DeleteResponse, error) {
	b, err := s.get("delete")
	if err != nil {
		return nil, err
	}
	if err := ValidateKey(req.Key); err != nil {
		return nil, toStatus(err)
	}
	if err := b.Delete(ctx, req.Key); err != nil {
		return nil, toStatus(err)
	}
	return &storagev1.DeleteResponse{}, nil
}

func infoToWire(i Info) *storagev1.InfoResponse {
	return &storagev1.InfoResponse{
		Name: i.Name, Version: i.Version, Protocol: int32(i.Protocol),
		Capabilities: &storagev1.Capabilities{
			ConditionalWrites: i.Capabilities.ConditionalWrites,
			AtomicReplace:     i.Capabilities.AtomicReplace,
			RangedReads:       i.Capabilities.RangedReads,
			NestedKeys:        i.Capabilities.NestedKeys,
		},
	}
}

func infoFromWire(r *storagev1.InfoResponse) Info {
	c := r.GetCapabilities()
	return Info{
		Name: r.GetName(), Version: r.GetVersion(), Protocol: int(r.GetProtocol()),
		Capabilities: Capabilities{
			ConditionalWrites: c.GetConditionalWrites(),
			AtomicReplace:     c.GetAtomicReplace(),
			RangedReads:       c.GetRangedReads(),
			NestedKeys:        c.GetNestedKeys(),
		},
	}
}

func objectToWire(o ObjectInfo) *storagev1.ObjectInfo {
	w := &storagev1.ObjectInfo{Key: o.Key, Size: o.Size, Etag: o.ETag, Metadata: o.Metadata}
	if !o.Modified.IsZero() {
		w.ModifiedUnixNano = o.Modified.UnixNano()
	}
	return w
}

func objectFromWire(w *storagev1.ObjectInfo) ObjectInfo {
	o := ObjectInfo{Key: w.GetKey(), Size: w.GetSize(), ETag: w.GetEtag(), Metadata: w.GetMetadata()}
	if w.GetModifiedUnixNano() != 0 {
		o.Modified = time.Unix(0, w.GetModifiedUnixNano())
	}
	return o
}

// servedRegion is the shared-memory region the host passed to this plugin
// process (mapped read-only by Serve), or nil.
var servedRegion []byte

// errNoSharedRegion is PutShared's answer when the plugin has no region;
// the host then falls back to Put.
var errNoSharedRegion = status.Error(codes.Unimplemented, "no shared-memory region in this plugin process")

// PutShared is Put with the payload in the shared region: the messages
// name its extents as the host fills them, and one may cancel the Put.
// The handler returns only once Backend.Put has returned, so the host may
// reuse the extents when the answer arrives.
func (s *grpcServer) PutShared(stream storagev1.Storage_PutSharedServer) error {
	mem := servedRegion
	if mem == nil {
		return errNoSharedRegion
	}
	b, err := s.get("put")
	if err != nil {
		return err
	}
	first, h, err := recvPutHeader(stream.Recv, "PutShared")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	more := make(chan []extent, 16)
	var protoErr atomic.Pointer[error]
	// The receiver hands the extents to the reader until the last ones; a
	// cancel message, a bad extent or the end of the stream before the
	// last extents cancel the Put. It ends when the handler returns (which
	// ends the stream).
	go func() {
		m := first
		ended := false
		for {
			if m.GetCancel() {
				cancel()
				return
			}
			if !ended {
				ext := make([]extent, 0, len(m.GetExtents()))
				for _, x := range m.GetExtents() {
					ext = append(ext, extent{off: x.GetOffset(), n: x.GetLength()})
				}
				if err := checkExtents(ext, int64(len(mem))); err != nil {
					protoErr.Store(&err)
					cancel()
					return
				}
				if len(ext) > 0 {
					select {
					case more <- ext:
					case <-ctx.Done():
						return
					}
				}
				if m.GetLast() {
					close(more)
					ended = true
				}
			}
			var err error
			if m, err = stream.Recv(); err != nil {
				if !ended || err != io.EOF {
					cancel()
				}
				return
			}
		}
	}()
	r := &extentReader{mem: mem, more: more, done: ctx.Done(), ctxErr: ctx.Err}
	opts := PutOptions{IfMatch: h.IfMatch, IfNoneMatch: h.IfNoneMatch, Size: h.Size, Metadata: h.Metadata}
	info, err := b.Put(ctx, h.Key, r, opts)
	r.closed.Store(true)
	if perr := protoErr.Load(); perr != nil {
		return toStatus(PermanentError("put", h.Key, *perr))
	}
	if err != nil {
		return toStatus(err)
	}
	return stream.Send(objectToWire(info))
}
