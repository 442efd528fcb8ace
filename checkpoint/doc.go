// Package checkpoint reads and writes this project's checkpoint files:
// safetensors files (https://github.com/huggingface/safetensors) whose
// tensors are named as the state_dict of the equivalent PyTorch module and
// whose metadata says where a run stands and how it was configured.
//
// A file is an 8-byte little-endian header length, a JSON header mapping
// each tensor name to {"dtype", "shape", "data_offsets"} plus a
// "__metadata__" object of strings (see [Version] for its keys), then the raw
// little-endian tensor data. The header is padded with spaces to a multiple
// of 8 bytes and the tensors are stored in name order.
//
// Tensor names:
//
//	conv1_1.weight ... fc2.weight  the network parameters, named and laid out as
//	                               the state_dict of the equivalent PyTorch module
//	                               (see graph.Param); fc1.weight is (D, 1152)
//	centers                        the class centers, (classes, D)
//	momentum.<name>                the SGD momentum buffer of parameter <name>
//
// Every tensor has the checkpoint's dtype, F32 or F64. [Read] checks the
// framing (header length, JSON, dtypes, shapes, data offsets that tile the
// data exactly), the metadata, and that the tensors agree with each other;
// whether they fit a network is the trainer's to check (package train).
// [WriteFile] replaces a file atomically, so that a crash leaves the
// previous checkpoint whole.
//
// The reader and writer are this package's own, a few hundred lines. The
// one safetensors module for Go, github.com/nlpodyssey/safetensors, writes
// the same bytes and reads __metadata__, F32 and F64, but it is laxer than
// this reader: it keeps the last of two tensors of the same name, reports a
// truncated file and one with stray bytes after its data alike ("metadata
// incomplete buffer", where callers here tell [ErrTruncated] from
// [ErrNotSafetensors]), and names no tensor when a shape disagrees with its
// data offsets.
package checkpoint
