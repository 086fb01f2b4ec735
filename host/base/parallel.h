// SPDX-License-Identifier: Apache-2.0
// Sharing independent work over the machine's cores: loading and writing snapshots, where
// each object is parsed, converted or written on its own.
#pragma once

#include <cstddef>
#include <functional>

namespace kbinder::host {

// Calls work(begin, end) for each chunk of `chunk` items (the last may be shorter) of
// [0, count), on as many threads as there are cores and chunks (the caller's thread among
// them), each thread taking the next chunk left as it finishes one; returns once all are done.
// Where a thread cannot be started, the others do its share. Once a call of `work` has thrown,
// no thread takes another chunk (the ones under way, taken while the exception was on its way
// to be caught, finish); the exception is thrown again here once all have.
void forEachChunk(size_t count, size_t chunk,
                  const std::function<void(size_t begin, size_t end)>& work);

}  // namespace kbinder::host
