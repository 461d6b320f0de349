// Fixed-size byte blocks a reactor lends to connections for as long as bytes are in flight
// (sealed TLS records on their way out, a TLS record still arriving), so that an idle connection
// holds none. Single-threaded, one pool per reactor; freed blocks are kept for reuse up to a cap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace tng {

class BlockPool;

// A block on loan; returned to its pool when destroyed.
class Block {
 public:
  Block() = default;
  Block(Block&& o) noexcept : pool_(std::exchange(o.pool_, nullptr)), data_(std::move(o.data_)) {}
  Block& operator=(Block&& o) noexcept {
    if (this != &o) {
      Reset();
      pool_ = std::exchange(o.pool_, nullptr);
      data_ = std::move(o.data_);
    }
    return *this;
  }
  ~Block() { Reset(); }

  uint8_t* data() const { return data_.get(); }
  explicit operator bool() const { return data_ != nullptr; }
  inline void Reset();

 private:
  friend class BlockPool;
  Block(BlockPool* pool, std::unique_ptr<uint8_t[]> data) : pool_(pool), data_(std::move(data)) {}
  BlockPool* pool_ = nullptr;
  std::unique_ptr<uint8_t[]> data_;
};

class BlockPool {
 public:
  // Block size: a full 64 KiB receive sealed into TLS records, plus a partial record before it.
  static constexpr size_t kBlockSize = 96 * 1024;
  explicit BlockPool(size_t keep = 64) : keep_(keep) {}
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  Block Acquire() {
    if (!free_.empty()) {
      auto data = std::move(free_.back());
      free_.pop_back();
      return Block(this, std::move(data));
    }
    // Not zero-filled: pages that are never written are never made resident.
    return Block(this, std::make_unique_for_overwrite<uint8_t[]>(kBlockSize));
  }
  size_t cached() const { return free_.size(); }

 private:
  friend class Block;
  void Return(std::unique_ptr<uint8_t[]> data) {
    if (free_.size() < keep_) free_.push_back(std::move(data));
  }
  size_t keep_;
  std::vector<std::unique_ptr<uint8_t[]>> free_;
};

inline void Block::Reset() {
  if (data_ != nullptr && pool_ != nullptr) pool_->Return(std::move(data_));
  data_.reset();
  pool_ = nullptr;
}

}  // namespace tng
