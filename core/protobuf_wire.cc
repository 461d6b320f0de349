#include "core/protobuf_wire.h"

#include "core/json.h"

namespace tng::pb {

using json::Cat;

std::string_view WireTypeName(WireType type) {
  switch (type) {
    case WireType::kVarint:
      return "varint";
    case WireType::kFixed64:
      return "fixed64";
    case WireType::kLengthDelimited:
      return "length-delimited";
    case WireType::kStartGroup:
      return "start-group";
    case WireType::kEndGroup:
      return "end-group";
    case WireType::kFixed32:
      return "fixed32";
  }
  return "unknown";
}

void AppendVarint(std::vector<uint8_t>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

void Writer::Tag(uint32_t field, WireType type) {
  AppendVarint(out_, (static_cast<uint64_t>(field) << 3) | static_cast<uint8_t>(type));
}

void Writer::Varint(uint32_t field, uint64_t v) {
  Tag(field, WireType::kVarint);
  AppendVarint(out_, v);
}

void Writer::Fixed32(uint32_t field, uint32_t v) {
  Tag(field, WireType::kFixed32);
  for (int i = 0; i < 4; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void Writer::Fixed64(uint32_t field, uint64_t v) {
  Tag(field, WireType::kFixed64);
  for (int i = 0; i < 8; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void Writer::Bytes(uint32_t field, std::span<const uint8_t> v) {
  Tag(field, WireType::kLengthDelimited);
  AppendVarint(out_, v.size());
  out_.insert(out_.end(), v.begin(), v.end());
}

void Writer::String(uint32_t field, std::string_view v) {
  Bytes(field, std::span(reinterpret_cast<const uint8_t*>(v.data()), v.size()));
}

Reader::Reader(std::span<const uint8_t> data, std::string_view what, size_t base_offset,
               ReaderLimits limits)
    : data_(data), what_(what), base_offset_(base_offset), limits_(limits) {}

absl::Status Reader::Error(size_t pos, std::string_view problem) const {
  return absl::InvalidArgumentError(
      Cat("malformed protobuf ", what_, " at offset ", base_offset_ + pos, ": ", problem));
}

absl::Status Reader::FieldError(const Field& field, std::string_view problem) const {
  return absl::InvalidArgumentError(Cat("malformed protobuf ", what_, ": field ", field.number,
                                        " at offset ", field.offset, ": ", problem));
}

absl::Status Reader::ExpectType(const Field& field, WireType expected) const {
  if (field.type == expected) return absl::OkStatus();
  return FieldError(field, Cat("expected wire type ", WireTypeName(expected), ", found ",
                               WireTypeName(field.type)));
}

absl::StatusOr<uint64_t> Reader::ReadVarint(size_t& pos, std::string_view item) const {
  const size_t start = pos;
  uint64_t v = 0;
  for (size_t i = 0; i < kMaxVarintSize; ++i) {
    if (pos >= data_.size()) {
      return Error(start, Cat(item, ": varint truncated after ", i, " byte(s)"));
    }
    const uint8_t b = data_[pos++];
    // The tenth byte holds bit 63 only; anything more does not fit 64 bits.
    if (i == kMaxVarintSize - 1 && b > 1) {
      return Error(start, Cat(item, ": varint overflows 64 bits"));
    }
    v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) return v;
  }
  return Error(start, Cat(item, ": varint longer than ", kMaxVarintSize, " bytes"));
}

absl::StatusOr<bool> Reader::Next(Field& field) {
  if (pos_ >= data_.size()) return false;
  const size_t tag_pos = pos_;
  auto tag = ReadVarint(pos_, "field tag");
  if (!tag.ok()) return tag.status();
  const uint64_t number = *tag >> 3;
  const auto type = static_cast<WireType>(*tag & 7);
  if (number == 0 || number > kMaxFieldNumber) {
    return Error(tag_pos,
                 Cat("field number ", number, " is out of range (1..", kMaxFieldNumber, ")"));
  }
  field = Field{};
  field.number = static_cast<uint32_t>(number);
  field.type = type;
  field.offset = base_offset_ + tag_pos;
  auto fail = [&](std::string_view problem) { return FieldError(field, problem); };
  switch (type) {
    case WireType::kVarint: {
      auto v = ReadVarint(pos_, Cat("field ", number));
      if (!v.ok()) return v.status();
      field.value = *v;
      break;
    }
    case WireType::kFixed32:
    case WireType::kFixed64: {
      const size_t n = type == WireType::kFixed32 ? 4 : 8;
      if (data_.size() - pos_ < n) {
        return fail(Cat(WireTypeName(type), " value truncated: ", data_.size() - pos_, " of ", n,
                        " bytes present"));
      }
      for (size_t i = 0; i < n; ++i)
        field.value |= static_cast<uint64_t>(data_[pos_ + i]) << (8 * i);
      pos_ += n;
      break;
    }
    case WireType::kLengthDelimited: {
      auto len = ReadVarint(pos_, Cat("length of field ", number));
      if (!len.ok()) return len.status();
      if (*len > limits_.max_field_length) {
        return fail(
            Cat("length ", *len, " exceeds the limit of ", limits_.max_field_length, " bytes"));
      }
      if (*len > data_.size() - pos_) {
        return fail(Cat("length ", *len, " runs past the end of the message (", data_.size() - pos_,
                        " bytes left)"));
      }
      field.bytes = data_.subspan(pos_, static_cast<size_t>(*len));
      field.bytes_offset = base_offset_ + pos_;
      pos_ += static_cast<size_t>(*len);
      break;
    }
    case WireType::kStartGroup:
    case WireType::kEndGroup:
      return fail("groups (wire types 3 and 4) are not supported");
    default:
      return fail(Cat("invalid wire type ", static_cast<int>(type)));
  }
  return true;
}

}  // namespace tng::pb
