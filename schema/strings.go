package schema

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// StringColumn builds one top-level String column of a Builder. It does what
// array.StringBuilder does for the decoders' common case, appending a value
// or a null, with a bounds check and a copy per value instead of a chain of
// calls per value (reserve, offset through binary.PutUint32, bitmap): in the
// SOFARPC drain, Arrow's Append was a quarter of the decoder's time.
//
// Its buffers come from the Builder's allocator and pass to the array that
// Builder.NewRecord makes; the column then starts empty. The validity
// bitmap is only made once a null is appended. A StringColumn is not safe
// for concurrent use.
//
// For a LowCardString column (Arrow type LowCardDict) the StringColumn
// builds a dictionary array: each distinct value of the batch is kept once,
// in the order first seen, and a row is its value's index. Appending a value
// costs a comparison with the previous row's value, else a hash lookup; a
// null becomes "" (LowCardinality(String) is not nullable).
type StringColumn struct {
	mem     memory.Allocator
	offsets *memory.Buffer // n+1 int32 offsets; off views its whole capacity
	data    *memory.Buffer // value bytes; dat views its whole capacity
	valid   *memory.Buffer // nil until the first null
	off     []int32
	dat     []byte
	bits    []byte
	n       int // rows
	size    int // bytes used in dat
	nulls   int
	name    string

	// Dictionary mode (non-nil vals): the batch's distinct values, a hash
	// index from value to position in vals, the rows' indexes (n of them), and the
	// index of the last value appended (-1 for none).
	vals  *StringColumn
	dict  *dictIndex
	index *memory.Buffer // idx views its whole capacity
	idx   []int32
	last  int32
}

func newStringColumn(mem memory.Allocator, name string) *StringColumn {
	return &StringColumn{mem: mem, name: name}
}

func newDictColumn(mem memory.Allocator, name string) *StringColumn {
	return &StringColumn{mem: mem, name: name, vals: newStringColumn(mem, name), dict: new(dictIndex), last: -1}
}

// Len returns the number of rows appended since the last NewRecord.
func (s *StringColumn) Len() int { return s.n }

// Append appends v (copied; the caller may reuse it).
func (s *StringColumn) Append(v []byte) {
	if s.vals != nil {
		s.appendIndex(s.lookup(unsafe.String(unsafe.SliceData(v), len(v))))
		return
	}
	appendValue(s, v)
}

// AppendString appends v.
func (s *StringColumn) AppendString(v string) {
	if s.vals != nil {
		s.appendIndex(s.lookup(v))
		return
	}
	appendValue(s, v)
}

// lookup returns v's index in the dictionary, adding it when it is new. v
// may alias the caller's buffer: it is copied before it is kept.
func (s *StringColumn) lookup(v string) int32 {
	if s.last >= 0 && s.vals.valueString(int(s.last)) == v {
		return s.last
	}
	h := dictHash(v)
	i, slot := s.dict.find(s.vals, v, h)
	if i < 0 {
		i = int32(s.vals.n)
		appendValue(s.vals, v)
		s.dict.insert(slot, h, i)
	}
	s.last = i
	return i
}

// valueString returns row i's value, aliasing the column's buffer: only to
// compare, before anything else is appended.
func (s *StringColumn) valueString(i int) string {
	b := s.dat[s.off[i]:s.off[i+1]]
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func (s *StringColumn) appendIndex(i int32) {
	if s.n >= len(s.idx) {
		s.growIndex(s.n + 1)
	}
	s.idx[s.n] = i
	s.n++
}

func (s *StringColumn) growIndex(min int) {
	if s.index == nil {
		s.index = memory.NewResizableBuffer(s.mem)
	}
	c := max(2*len(s.idx), min, 64)
	s.index.Reserve(c * arrow.Int32SizeBytes)
	s.idx = arrow.Int32Traits.CastFromBytes(s.index.Buf())
}

func appendValue[T []byte | string](s *StringColumn, v T) {
	if s.n+2 > len(s.off) {
		s.growOffsets(s.n + 2)
	}
	end := s.size + len(v)
	if end > len(s.dat) {
		s.growData(end)
	}
	copy(s.dat[s.size:end], v)
	s.size = end
	s.n++
	s.off[s.n] = int32(end)
	if s.bits != nil {
		s.growBits(s.n)
		bitutil.SetBit(s.bits, s.n-1)
	}
}

// AppendNull appends a null (the column's field must be nullable for the
// engine to keep it; an empty string otherwise, and always "" in
// dictionary mode).
func (s *StringColumn) AppendNull() {
	if s.vals != nil {
		s.AppendString("")
		return
	}
	if s.n+2 > len(s.off) {
		s.growOffsets(s.n + 2)
	}
	if s.valid == nil {
		s.makeBitmap()
	}
	s.n++
	s.off[s.n] = int32(s.size)
	s.growBits(s.n)
	bitutil.ClearBit(s.bits, s.n-1)
	s.nulls++
}

// Reserve makes room for rows more rows holding bytes more value bytes, so
// that appending them does not reallocate. In dictionary mode bytes are
// the dictionary's value bytes.
func (s *StringColumn) Reserve(rows, bytes int) {
	if s.vals != nil {
		if s.n+rows > len(s.idx) {
			s.growIndex(s.n + rows)
		}
		if s.vals.size+bytes > len(s.vals.dat) {
			s.vals.growData(s.vals.size + bytes)
		}
		return
	}
	if s.n+rows+1 > len(s.off) {
		s.growOffsets(s.n + rows + 1)
	}
	if s.size+bytes > len(s.dat) {
		s.growData(s.size + bytes)
	}
	if s.bits != nil {
		s.growBits(s.n + rows)
	}
}

func (s *StringColumn) growOffsets(min int) {
	if s.offsets == nil {
		s.offsets = memory.NewResizableBuffer(s.mem)
	}
	c := 2 * len(s.off)
	if c < min {
		c = min
	}
	if c < 64 {
		c = 64
	}
	s.offsets.Reserve(c * arrow.Int32SizeBytes)
	s.off = arrow.Int32Traits.CastFromBytes(s.offsets.Buf())
	s.off[0] = 0
}

func (s *StringColumn) growData(min int) {
	if min > math.MaxInt32 {
		panic(fmt.Sprintf("column %s: more than 2 GiB of strings in one batch; lower --batch-bytes", s.name))
	}
	if s.data == nil {
		s.data = memory.NewResizableBuffer(s.mem)
	}
	c := 2 * len(s.dat)
	if c < min {
		c = min
	}
	if c < 256 {
		c = 256
	}
	s.data.Reserve(c)
	s.dat = s.data.Buf()
}

// makeBitmap starts the validity bitmap with every row so far valid.
func (s *StringColumn) makeBitmap() {
	s.valid = memory.NewResizableBuffer(s.mem)
	s.bits = nil
	s.growBits(s.n + 1)
	bitutil.SetBitsTo(s.bits, 0, int64(s.n), true)
}

// growBits makes the bitmap hold at least rows bits.
func (s *StringColumn) growBits(rows int) {
	need := int(bitutil.BytesForBits(int64(rows)))
	if need <= len(s.bits) {
		return
	}
	c := 2 * len(s.bits)
	if c < need {
		c = need
	}
	if c < 64 {
		c = 64
	}
	s.valid.Reserve(c)
	s.bits = s.valid.Buf()
}

// newArray returns the rows appended so far as a String array (the caller
// releases it) and starts the column empty.
func (s *StringColumn) newArray() arrow.Array {
	if s.vals != nil {
		return s.newDictArray()
	}
	if s.offsets == nil {
		s.growOffsets(1)
	}
	if s.data == nil {
		s.growData(0)
	}
	s.offsets.ResizeNoShrink((s.n + 1) * arrow.Int32SizeBytes)
	s.data.ResizeNoShrink(s.size)
	var valid *memory.Buffer
	if s.valid != nil {
		s.valid.ResizeNoShrink(int(bitutil.BytesForBits(int64(s.n))))
		valid = s.valid
	}
	d := array.NewData(arrow.BinaryTypes.String, s.n, []*memory.Buffer{valid, s.offsets, s.data}, nil, s.nulls, 0)
	a := array.NewStringData(d)
	d.Release()
	s.release()
	return a
}

// newDictArray is newArray in dictionary mode: a LowCardDict array of the
// rows' indexes into the batch's values.
func (s *StringColumn) newDictArray() arrow.Array {
	if s.index == nil {
		s.growIndex(1)
	}
	s.index.ResizeNoShrink(s.n * arrow.Int32SizeBytes)
	ids := array.NewData(arrow.PrimitiveTypes.Int32, s.n, []*memory.Buffer{nil, s.index}, nil, 0, 0)
	idx := array.NewInt32Data(ids)
	ids.Release()
	vals := s.vals.newArray()
	a := array.NewDictionaryArray(LowCardDict, idx, vals)
	idx.Release()
	vals.Release()
	s.release()
	return a
}

// release drops the column's references to its buffers and starts it empty
// (in dictionary mode with an empty dictionary).
func (s *StringColumn) release() {
	for _, b := range []*memory.Buffer{s.offsets, s.data, s.valid, s.index} {
		if b != nil {
			b.Release()
		}
	}
	vals, dict := s.vals, s.dict
	if vals != nil {
		vals.release()
		dict.reset()
	}
	*s = StringColumn{mem: s.mem, name: s.name, vals: vals, dict: dict, last: -1}
}
