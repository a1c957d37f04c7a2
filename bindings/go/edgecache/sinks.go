package edgecache

import "errors"

// Sink receives the value of a Get (groupcache's Sink). Make one with
// StringSink, ByteViewSink, AllocatingByteSliceSink or
// TruncatingByteSliceSink. Every Set copies its argument: the caller keeps
// ownership of what it passes. A Sink is used by one goroutine at a time.
//
// Unlike groupcache there is no SetProto: the package depends on the
// standard library only (marshal and call SetBytes).
type Sink interface {
	// SetString sets the value to s.
	SetString(s string) error
	// SetBytes sets the value to a copy of v.
	SetBytes(v []byte) error
	// view returns what was set, for the getter's side.
	view() (ByteView, error)
}

var errNoValue = errors.New("edgecache: the sink holds no value")

// StringSink returns a Sink that stores the value in *sp.
func StringSink(sp *string) Sink { return &stringSink{sp: sp} }

type stringSink struct {
	sp *string
	ok bool
}

func (s *stringSink) SetString(v string) error {
	*s.sp, s.ok = v, true
	return nil
}

func (s *stringSink) SetBytes(v []byte) error { return s.SetString(string(v)) }

func (s *stringSink) view() (ByteView, error) {
	if !s.ok {
		return ByteView{}, errNoValue
	}
	return ByteView{s: *s.sp}, nil
}

// ByteViewSink returns a Sink that stores the value in *dst.
func ByteViewSink(dst *ByteView) Sink {
	if dst == nil {
		panic("edgecache: ByteViewSink: nil dst")
	}
	return &byteViewSink{dst: dst}
}

type byteViewSink struct {
	dst *ByteView
	ok  bool
}

func (s *byteViewSink) SetString(v string) error {
	*s.dst, s.ok = ByteView{s: v}, true
	return nil
}

func (s *byteViewSink) SetBytes(v []byte) error {
	*s.dst, s.ok = ByteView{b: cloneBytes(v)}, true
	return nil
}

func (s *byteViewSink) view() (ByteView, error) {
	if !s.ok {
		return ByteView{}, errNoValue
	}
	return *s.dst, nil
}

// AllocatingByteSliceSink returns a Sink that stores a newly allocated copy
// of the value in *dst.
func AllocatingByteSliceSink(dst *[]byte) Sink { return &allocBytesSink{dst: dst} }

type allocBytesSink struct {
	dst *[]byte
	ok  bool
}

func (s *allocBytesSink) SetString(v string) error {
	*s.dst, s.ok = []byte(v), true
	return nil
}

func (s *allocBytesSink) SetBytes(v []byte) error {
	*s.dst, s.ok = cloneBytes(v), true
	return nil
}

func (s *allocBytesSink) view() (ByteView, error) {
	if !s.ok {
		return ByteView{}, errNoValue
	}
	return ByteView{b: cloneBytes(*s.dst)}, nil
}

// TruncatingByteSliceSink returns a Sink that copies the value into *dst,
// up to len(*dst) bytes, and reslices *dst to what was written (the rest of
// a longer value is dropped).
func TruncatingByteSliceSink(dst *[]byte) Sink { return &truncBytesSink{dst: dst} }

type truncBytesSink struct {
	dst *[]byte
	ok  bool
}

func (s *truncBytesSink) SetString(v string) error {
	n := copy(*s.dst, v)
	*s.dst, s.ok = (*s.dst)[:n], true
	return nil
}

func (s *truncBytesSink) SetBytes(v []byte) error {
	n := copy(*s.dst, v)
	*s.dst, s.ok = (*s.dst)[:n], true
	return nil
}

func (s *truncBytesSink) view() (ByteView, error) {
	if !s.ok {
		return ByteView{}, errNoValue
	}
	return ByteView{b: cloneBytes(*s.dst)}, nil
}

// loadSink is the sink a getter fills inside a load: it keeps the bytes for
// the library, which copies them into the cache.
type loadSink struct {
	b  []byte
	ok bool
}

func (s *loadSink) SetString(v string) error {
	s.b, s.ok = []byte(v), true
	return nil
}

func (s *loadSink) SetBytes(v []byte) error {
	// A copy: the getter may reuse v before it returns.
	s.b, s.ok = cloneBytes(v), true
	return nil
}

func (s *loadSink) view() (ByteView, error) {
	if !s.ok {
		return ByteView{}, errNoValue
	}
	return ByteView{b: s.b}, nil
}
