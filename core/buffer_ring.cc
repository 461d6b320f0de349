#include "core/buffer_ring.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace tng {

absl::StatusOr<std::unique_ptr<BufferRing>> BufferRing::Create(io_uring* ring, uint16_t group,
                                                               unsigned count, size_t size) {
  if (count == 0 || (count & (count - 1)) != 0 || count > 32768) {
    return absl::InvalidArgumentError("buffer ring: count must be a power of two up to 32768");
  }
  std::unique_ptr<BufferRing> r(new BufferRing());
  r->ring_ = ring;
  r->group_ = group;
  r->count_ = count;
  r->size_ = size;
  r->br_bytes_ = count * sizeof(io_uring_buf);
  void* br =
      mmap(nullptr, r->br_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (br == MAP_FAILED)
    return absl::ResourceExhaustedError(absl::StrCat("mmap: ", strerror(errno)));
  r->br_ = static_cast<io_uring_buf_ring*>(br);
  // The buffers themselves: reserved, made resident only where bytes are ever written.
  r->base_bytes_ = count * (size + kSlack);
  void* base = mmap(nullptr, r->base_bytes_, PROT_READ | PROT_WRITE,
                    MAP_ANONYMOUS | MAP_PRIVATE | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) {
    return absl::ResourceExhaustedError(absl::StrCat("mmap: ", strerror(errno)));
  }
  r->base_ = static_cast<uint8_t*>(base);

  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(br);
  reg.ring_entries = count;
  reg.bgid = group;
  if (int rc = io_uring_register_buf_ring(ring, &reg, 0); rc < 0) {
    return absl::UnavailableError(absl::StrCat("io_uring provided buffer ring: ", strerror(-rc)));
  }
  r->registered_ = true;
  io_uring_buf_ring_init(r->br_);
  const int mask = io_uring_buf_ring_mask(count);
  for (unsigned i = 0; i < count; ++i) {
    io_uring_buf_ring_add(r->br_, r->BufferAt(static_cast<uint16_t>(i)),
                          static_cast<unsigned>(size), static_cast<uint16_t>(i), mask,
                          static_cast<int>(i));
  }
  io_uring_buf_ring_advance(r->br_, static_cast<int>(count));
  return r;
}

BufferRing::~BufferRing() {
  if (registered_) io_uring_unregister_buf_ring(ring_, group_);
  if (br_ != nullptr) munmap(br_, br_bytes_);
  if (base_ != nullptr) munmap(base_, base_bytes_);
}

RingBuffer BufferRing::Take(uint32_t cqe_flags) {
  if ((cqe_flags & IORING_CQE_F_BUFFER) == 0) return {};
  const auto id = static_cast<uint16_t>(cqe_flags >> IORING_CQE_BUFFER_SHIFT);
  ++lent_;
  return RingBuffer(this, id, BufferAt(id));
}

void BufferRing::Recycle(uint16_t id) {
  io_uring_buf_ring_add(br_, BufferAt(id), static_cast<unsigned>(size_), id,
                        io_uring_buf_ring_mask(count_), 0);
  io_uring_buf_ring_advance(br_, 1);
  --lent_;
}

}  // namespace tng
