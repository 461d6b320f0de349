// Receive buffers that the kernel picks when bytes arrive (an io_uring provided-buffer ring):
// a connection waiting for its peer holds no buffer, only bytes in flight do. One ring per
// reactor, shared by all its sockets (see ReceiveSome in core/tcp_stream.h for what happens
// when it is empty).
#pragma once

#include <liburing.h>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace tng {

class BufferRing;

// One ring buffer holding received bytes; given back to the kernel when destroyed.
class RingBuffer {
 public:
  RingBuffer() = default;
  RingBuffer(RingBuffer&& o) noexcept
      : ring_(std::exchange(o.ring_, nullptr)), id_(o.id_), data_(o.data_) {}
  RingBuffer& operator=(RingBuffer&& o) noexcept {
    if (this != &o) {
      Reset();
      ring_ = std::exchange(o.ring_, nullptr);
      id_ = o.id_;
      data_ = o.data_;
    }
    return *this;
  }
  ~RingBuffer() { Reset(); }

  uint8_t* data() const { return data_; }
  explicit operator bool() const { return ring_ != nullptr; }
  inline void Reset();

 private:
  friend class BufferRing;
  RingBuffer(BufferRing* ring, uint16_t id, uint8_t* data) : ring_(ring), id_(id), data_(data) {}
  BufferRing* ring_ = nullptr;
  uint16_t id_ = 0;
  uint8_t* data_ = nullptr;
};

class BufferRing {
 public:
  // `count` (a power of two) buffers of `size` bytes, each followed by kSlack writable bytes
  // (the TLS sealer borrows the byte after the data, see RecordCipher::SealWithScratch).
  static constexpr size_t kSlack = 64;
  static absl::StatusOr<std::unique_ptr<BufferRing>> Create(io_uring* ring, uint16_t group,
                                                            unsigned count, size_t size);
  ~BufferRing();
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;

  uint16_t group() const { return group_; }
  size_t buffer_size() const { return size_; }
  unsigned count() const { return count_; }
  unsigned lent() const { return lent_; }

  // The buffer the kernel chose for a completion (its CQE flags), now owned by the caller.
  RingBuffer Take(uint32_t cqe_flags);

 private:
  friend class RingBuffer;
  BufferRing() = default;
  uint8_t* BufferAt(uint16_t id) const { return base_ + size_t{id} * (size_ + kSlack); }
  void Recycle(uint16_t id);

  io_uring* ring_ = nullptr;
  io_uring_buf_ring* br_ = nullptr;
  size_t br_bytes_ = 0;
  uint8_t* base_ = nullptr;
  size_t base_bytes_ = 0;
  uint16_t group_ = 0;
  unsigned count_ = 0;
  size_t size_ = 0;
  unsigned lent_ = 0;
  bool registered_ = false;
};

inline void RingBuffer::Reset() {
  if (ring_ != nullptr) ring_->Recycle(id_);
  ring_ = nullptr;
}

}  // namespace tng
