package schema

import "hash/maphash"

// dictSeed seeds the hash of every dictIndex. One seed per process is
// enough: the tables only ever hold one batch's values.
var dictSeed = maphash.MakeSeed()

// dictIndex finds a dictionary column's values by content: an
// open-addressing hash table whose slots hold a value's 32-bit hash and its
// index in the column's dictionary, never the value itself. A value is
// compared with the dictionary's own bytes, so adding one copies nothing and
// allocates nothing until the table grows, and emptying it for the next
// batch is one clear of the slots.
//
// It replaced a map[string]int32, whose every new key was a copied string:
// on the drain's generated SOFARPC digests, where remote_host has tens of
// thousands of distinct values per batch, the map's lookups and copies took
// 9% of the drain's Go CPU (docs/performance.md, "A dictionary's index
// without Go's map").
type dictIndex struct {
	slots []uint64 // 0: empty; else hash<<32 | (index + 1)
	used  int
}

// find returns the index of v in vals, or -1 and the slot where v belongs.
// h is v's hash (dictHash).
func (d *dictIndex) find(vals *StringColumn, v string, h uint32) (index int32, slot int) {
	if len(d.slots) == 0 {
		d.slots = make([]uint64, 64)
	}
	mask := len(d.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		e := d.slots[i]
		if e == 0 {
			return -1, i
		}
		if uint32(e>>32) == h {
			if x := int32(uint32(e)) - 1; vals.valueString(int(x)) == v {
				return x, i
			}
		}
	}
}

// insert records that the value of hash h is at index in the dictionary, in
// the slot find returned for it. It keeps the table at most half full.
func (d *dictIndex) insert(slot int, h uint32, index int32) {
	d.slots[slot] = uint64(h)<<32 | uint64(uint32(index)+1)
	d.used++
	if 2*d.used > len(d.slots) {
		d.grow()
	}
}

// grow doubles the table and places every entry again by its stored hash.
func (d *dictIndex) grow() {
	old := d.slots
	d.slots = make([]uint64, 2*len(old))
	mask := len(d.slots) - 1
	for _, e := range old {
		if e == 0 {
			continue
		}
		i := int(uint32(e>>32)) & mask
		for d.slots[i] != 0 {
			i = (i + 1) & mask
		}
		d.slots[i] = e
	}
}

// reset empties the table, keeping its size for the next batch.
func (d *dictIndex) reset() {
	clear(d.slots)
	d.used = 0
}

// dictHash is the hash dictIndex places v by.
func dictHash(v string) uint32 {
	h := maphash.String(dictSeed, v)
	return uint32(h) ^ uint32(h>>32)
}
