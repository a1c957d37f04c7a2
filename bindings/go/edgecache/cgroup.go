package edgecache

/*
#include "shims.h"
*/
import "C"

// makeCGroup registers a group the way a C program does, with a C getter
// (values "c:" + key), and drops its handle: the group stays registered.
// For the package's tests, which cannot use cgo themselves; unexported.
func makeCGroup(name string) error {
	var h *C.edgecache_group
	if err := call(func() C.edgecache_status {
		return C.ec_test_c_group_new(strData(name), C.size_t(len(name)), &h)
	}); err != nil {
		return err
	}
	C.edgecache_group_free(h)
	return nil
}
