#include "io/hdf5_reader.hpp"

#include <algorithm>
#include <cstring>
#include <set>

#include "core/error.hpp"
#include "io/json_strict.hpp"

// Layouts follow the HDF5 File Format Specification version 3.0: superblock
// versions 0-3, object header versions 1 and 2, version 1 B-trees of group
// nodes with local heaps, link messages, and the dataspace (0x01), datatype
// (0x03), data layout (0x08, versions 3 and 4), attribute (0x0C, versions
// 1-3) and global heap (for variable-length string attributes) encodings.
namespace cocktail {

namespace {

constexpr char kSignature[] = "\x89HDF\r\n\x1a\n";
// Bounds that no checkpoint comes near and that keep a hostile file from
// making us allocate or loop without end.
constexpr uint64_t kMaxBlock = 64ull << 20;  // one header chunk, heap or node
constexpr size_t kMaxObjects = 1u << 20;
constexpr size_t kMaxChunks = 1u << 16;  // object header continuation blocks, in all
constexpr int kMaxDepth = 64;
constexpr int kMaxDims = 32;

enum : uint16_t {
  kDataspace = 0x01, kLinkInfo = 0x02, kDatatype = 0x03, kLink = 0x06, kExternal = 0x07, kLayout = 0x08,
  kFilters = 0x0B, kAttribute = 0x0C, kContinuation = 0x10, kSymbolTable = 0x11, kAttributeInfo = 0x15,
};

struct Message {
  uint16_t type = 0;
  uint8_t flags = 0;
  uint64_t at = 0;  // absolute file offset of the data
  std::vector<uint8_t> data;
};

class Parser;

// Little-endian fields out of one block that was read whole; running past
// its end is an error naming what was being read.
class Cursor {
 public:
  Cursor(const Parser& p, const uint8_t* data, size_t n, std::string what) : p_(p), d_(data), n_(n), what_(std::move(what)) {}
  uint64_t u(size_t k);
  uint8_t u8() { return static_cast<uint8_t>(u(1)); }
  uint16_t u16() { return static_cast<uint16_t>(u(2)); }
  uint32_t u32() { return static_cast<uint32_t>(u(4)); }
  uint64_t addr();  // an address (size of offsets); kUndefined when all ones
  uint64_t length();
  const uint8_t* take(size_t k);
  void skip(size_t k) { take(k); }
  size_t pos() const { return i_; }
  size_t left() const { return n_ - i_; }
  void seek(size_t i);
  [[noreturn]] void fail(const std::string& why) const;

 private:
  const Parser& p_;
  const uint8_t* d_;
  size_t n_, i_ = 0;
  std::string what_;
};

constexpr uint64_t kUndefined = ~0ull;

class Parser {
 public:
  Parser(uint64_t size, const Hdf5ReadAt& read, std::string label) : size_(size), read_(read), label_(std::move(label)) {}

  std::vector<Hdf5Dataset> run() {
    read_superblock();
    visit(root_, "", 0);
    std::sort(out_.begin(), out_.end(), [](const Hdf5Dataset& a, const Hdf5Dataset& b) { return a.name < b.name; });
    return std::move(out_);
  }

  [[noreturn]] void fail(const std::string& why) const { throw Error(label_ + ": " + why); }
  int offset_size() const { return so_; }
  int length_size() const { return sl_; }

 private:
  // `n` bytes at absolute offset `at`, which must lie inside the file.
  std::vector<uint8_t> block(uint64_t at, uint64_t n, const std::string& what) const {
    if (at > size_ || n > size_ - at)
      fail(what + " at byte " + std::to_string(at) + " (" + std::to_string(n) + " bytes) runs past the end of the file (" +
           std::to_string(size_) + " bytes)");
    if (n > kMaxBlock) fail(what + " is " + std::to_string(n) + " bytes, more than any checkpoint's");
    std::vector<uint8_t> b(n);
    if (n) read_(at, n, b.data());
    return b;
  }
  // An address as stored (relative to the base) made absolute.
  uint64_t absolute(uint64_t a, const std::string& what) const {
    if (a == kUndefined || a > size_ || base_ > size_ - a) fail(what + " points past the end of the file");
    return base_ + a;
  }

  void read_superblock() {
    const std::optional<uint64_t> found = find_hdf5_signature(size_, read_);
    if (!found) fail("not an HDF5 file (no HDF5 signature)");
    const uint64_t at = *found;
    const std::vector<uint8_t> head = block(at, std::min<uint64_t>(size_ - at, 128), "superblock");
    Cursor c(*this, head.data(), head.size(), "superblock");
    c.skip(8);
    const uint8_t version = c.u8();
    if (version == 0 || version == 1) {
      c.skip(4);  // free-space, root symbol table entry, reserved, shared header versions
      so_ = c.u8();
      sl_ = c.u8();
      check_sizes();
      c.skip(1 + 2 + 2 + 4 + (version == 1 ? 4 : 0));
      base_ = c.addr();
      c.addr();  // free-space info
      eof_ = c.addr();
      c.addr();  // driver info
      c.addr();  // root entry: link name offset
      root_ = c.addr();
    } else if (version == 2 || version == 3) {
      so_ = c.u8();
      sl_ = c.u8();
      check_sizes();
      c.skip(1);
      base_ = c.addr();
      c.addr();  // superblock extension
      eof_ = c.addr();
      root_ = c.addr();
    } else {
      fail("superblock version " + std::to_string(version) + " is not one this code reads (0 to 3)");
    }
    // The base address is absolute (where the superblock is, after a user
    // block); every other address is relative to it.
    if (base_ == kUndefined || base_ > size_) fail("superblock's base address is past the end of the file");
    // A cut file (an interrupted copy) fails here, wherever the cut is.
    // (h5py's files store it counting the user block, as the size of the file.)
    if (eof_ == kUndefined || eof_ > size_)
      fail("the file is " + std::to_string(size_) + " bytes but its superblock says it ends at byte " +
           std::to_string(eof_) + " (a truncated copy?)");
    root_ = absolute(root_, "the root group's object header address");
  }
  void check_sizes() const {
    for (int s : {so_, sl_})
      if (s != 2 && s != 4 && s != 8) fail("superblock gives a field size of " + std::to_string(s) + " bytes (2, 4 or 8)");
  }

  // Every message of the object header at `at`, continuation blocks followed.
  std::vector<Message> messages(uint64_t at, const std::string& name) {
    const std::string what = "object header of '" + name + "'";
    std::vector<Message> out;
    const std::vector<uint8_t> first = block(at, std::min<uint64_t>(size_ - std::min(size_, at), 16), what);
    const bool v2 = first.size() >= 4 && std::memcmp(first.data(), "OHDR", 4) == 0;
    std::vector<std::pair<uint64_t, uint64_t>> chunks;  // (absolute offset, bytes) of message areas
    uint8_t flags = 0;
    if (!v2) {
      Cursor c(*this, first.data(), first.size(), what);
      if (c.u8() != 1) fail(what + " has an unknown version");
      c.skip(1);
      c.u16();  // message count: the chunks say
      c.u32();
      const uint32_t bytes = c.u32();
      chunks.emplace_back(at + 16, bytes);
    } else {
      Cursor c(*this, first.data(), first.size(), what);
      c.skip(4);
      if (c.u8() != 2) fail(what + " has an unknown version");
      flags = c.u8();
      size_t prefix = 6 + ((flags & 0x20) ? 16 : 0) + ((flags & 0x10) ? 4 : 0);
      const size_t width = size_t{1} << (flags & 3);
      const std::vector<uint8_t> rest = block(at, prefix + width, what);
      Cursor r(*this, rest.data(), rest.size(), what);
      r.skip(prefix);
      chunks.emplace_back(at + prefix + width, r.u(width));
    }
    for (size_t k = 0; k < chunks.size(); ++k) {
      if (++chunks_ > kMaxChunks) fail("more object header continuation blocks than any checkpoint has");
      const auto [start, bytes] = chunks[k];
      const std::vector<uint8_t> area = block(start, bytes, what);
      Cursor c(*this, area.data(), area.size(), what);
      if (v2 && k > 0) {
        if (area.size() < 8 || std::memcmp(area.data(), "OCHK", 4) != 0) fail(what + ": a continuation block lacks its OCHK signature");
        c.skip(4);
      }
      // A continuation block of a version 2 header ends with its checksum
      // (chunk 0's size leaves its checksum out).
      const size_t end = v2 && k > 0 ? area.size() - 4 : area.size();
      const size_t header = v2 ? 4 + ((flags & 0x04) ? 2 : 0) : 8;
      while (c.pos() + header <= end) {
        Message m;
        m.type = v2 ? c.u8() : c.u16();
        const uint16_t size = c.u16();
        m.flags = c.u8();
        c.skip(v2 ? ((flags & 0x04) ? 2 : 0) : 3);
        if (size > end - c.pos()) fail(what + ": message of type " + std::to_string(m.type) + " runs past its block");
        m.at = start + c.pos();
        const uint8_t* d = c.take(size);
        m.data.assign(d, d + size);
        if (m.type == kContinuation) {
          Cursor cc(*this, m.data.data(), m.data.size(), what);
          const uint64_t off = absolute(cc.addr(), what + "'s continuation");
          chunks.emplace_back(off, cc.length());
          continue;
        }
        if (m.flags & 0x02) fail(what + " has a shared message (type " + std::to_string(m.type) + "), which this code does not read");
        out.push_back(std::move(m));
      }
    }
    return out;
  }

  void visit(uint64_t at, const std::string& name, int depth) {
    if (depth > kMaxDepth) fail("groups nest deeper than " + std::to_string(kMaxDepth) + " levels at '" + name + "'");
    if (!seen_.insert(at).second) fail("object '" + name + "' is reached a second time (a loop or a second link)");
    if (seen_.size() > kMaxObjects) fail("more objects than any checkpoint has");
    const std::vector<Message> msgs = messages(at, name.empty() ? "/" : name);
    auto find = [&](uint16_t type) -> const Message* {
      for (const Message& m : msgs)
        if (m.type == type) return &m;
      return nullptr;
    };
    if (const Message* st = find(kSymbolTable)) {
      for (const auto& [child, addr] : symbol_table_links(*st, name)) visit(addr, join(name, child), depth + 1);
    } else if (find(kLinkInfo) || find(kLink)) {
      if (const Message* li = find(kLinkInfo)) {
        Cursor c(*this, li->data.data(), li->data.size(), "link info of '" + name + "'");
        c.skip(1);
        const uint8_t f = c.u8();
        if (f & 1) c.skip(8);
        if (c.addr() != kUndefined)
          fail("group '" + name + "' keeps its links in dense storage (a fractal heap), which this code does not read");
      }
      for (const Message& m : msgs)
        if (m.type == kLink) {
          const auto [child, addr] = link(m, name);
          visit(addr, join(name, child), depth + 1);
        }
    } else if (find(kLayout)) {
      out_.push_back(dataset(msgs, name));
    }
    // Anything else (a committed datatype, an empty old-style group) holds no data.
  }

  static std::string join(const std::string& group, const std::string& child) {
    return group.empty() ? child : group + "/" + child;
  }

  void check_link_name(const std::string& child, const std::string& group) const {
    if (child.empty() || child == "." || child == ".." || child.find('/') != std::string::npos ||
        find_invalid_utf8(child))
      fail("group '" + group + "' has a link named " + quote_name(child) + ", which is not a plain UTF-8 name");
  }

  std::pair<std::string, uint64_t> link(const Message& m, const std::string& group) {
    const std::string what = "a link of group '" + group + "'";
    Cursor c(*this, m.data.data(), m.data.size(), what);
    if (c.u8() != 1) fail(what + " has an unknown version");
    const uint8_t f = c.u8();
    const uint8_t type = (f & 0x08) ? c.u8() : 0;
    if (f & 0x04) c.skip(8);
    if (f & 0x10) c.skip(1);
    const uint64_t n = c.u(size_t{1} << (f & 3));
    if (n > c.left()) c.fail("its name runs past the message");
    const uint8_t* s = c.take(n);
    const std::string child(reinterpret_cast<const char*>(s), n);
    check_link_name(child, group);
    if (type != 0) fail("'" + join(group, child) + "' is a soft or external link, which this code does not follow");
    return {child, absolute(c.addr(), "'" + join(group, child) + "'")};
  }

  // The (name, object header) pairs of an old-style group: a version 1
  // B-tree of symbol nodes, names in a local heap.
  std::vector<std::pair<std::string, uint64_t>> symbol_table_links(const Message& m, const std::string& group) {
    const std::string what = "group '" + (group.empty() ? std::string("/") : group) + "'";
    Cursor c(*this, m.data.data(), m.data.size(), what + "'s symbol table");
    const uint64_t tree = absolute(c.addr(), what + "'s B-tree");
    const uint64_t heap = absolute(c.addr(), what + "'s local heap");
    const std::vector<uint8_t> h = block(heap, 8 + 2 * sl_ + so_, what + "'s local heap");
    Cursor hc(*this, h.data(), h.size(), what + "'s local heap");
    if (std::memcmp(hc.take(4), "HEAP", 4) != 0) fail(what + "'s local heap lacks its HEAP signature");
    hc.skip(4);
    const uint64_t heap_size = hc.length();
    hc.length();
    const std::vector<uint8_t> names = block(absolute(hc.addr(), what + "'s local heap data"), heap_size, what + "'s names");
    std::vector<std::pair<std::string, uint64_t>> links;
    std::set<uint64_t> nodes;
    walk_tree(tree, 0, names, what, links, nodes);
    return links;
  }

  void walk_tree(uint64_t at, int depth, const std::vector<uint8_t>& names, const std::string& what,
                 std::vector<std::pair<std::string, uint64_t>>& links, std::set<uint64_t>& nodes) {
    if (depth > kMaxDepth || !nodes.insert(at).second) fail(what + "'s B-tree loops or is too deep");
    const std::vector<uint8_t> head = block(at, 8 + 2 * so_, what + "'s B-tree node");
    Cursor c(*this, head.data(), head.size(), what + "'s B-tree node");
    if (std::memcmp(c.take(4), "TREE", 4) != 0) fail(what + "'s B-tree node lacks its TREE signature");
    if (c.u8() != 0) fail(what + "'s B-tree is not a group B-tree");
    const uint8_t level = c.u8();
    const uint16_t used = c.u16();
    const std::vector<uint8_t> body = block(at + head.size(), uint64_t{used} * (so_ + sl_) + sl_, what + "'s B-tree node");
    Cursor b(*this, body.data(), body.size(), what + "'s B-tree node");
    for (uint16_t i = 0; i < used; ++i) {
      b.length();  // key
      const uint64_t child = absolute(b.addr(), what + "'s B-tree child");
      if (level > 0) {
        walk_tree(child, depth + 1, names, what, links, nodes);
      } else {
        symbol_node(child, names, what, links);
      }
    }
  }

  void symbol_node(uint64_t at, const std::vector<uint8_t>& names, const std::string& what,
                   std::vector<std::pair<std::string, uint64_t>>& links) {
    const std::vector<uint8_t> head = block(at, 8, what + "'s symbol node");
    if (std::memcmp(head.data(), "SNOD", 4) != 0) fail(what + "'s symbol node lacks its SNOD signature");
    const uint16_t count = static_cast<uint16_t>(head[6] | head[7] << 8);
    const uint64_t entry = 2 * so_ + 24;
    const std::vector<uint8_t> body = block(at + 8, count * entry, what + "'s symbol node");
    Cursor c(*this, body.data(), body.size(), what + "'s symbol node");
    for (uint16_t i = 0; i < count; ++i) {
      const uint64_t name_at = c.addr();
      const uint64_t object = c.addr();
      const uint32_t cache = c.u32();
      c.skip(20);
      if (name_at >= names.size()) fail(what + " names a child past the end of its local heap");
      const auto* s = reinterpret_cast<const char*>(names.data() + name_at);
      const size_t n = strnlen(s, names.size() - name_at);
      if (n == names.size() - name_at) fail(what + " has a child name that does not end in its local heap");
      const std::string child(s, n);
      check_link_name(child, what);
      if (cache == 2) fail(what + "'s child '" + child + "' is a soft link, which this code does not follow");
      links.emplace_back(child, absolute(object, what + "'s child '" + child + "'"));
    }
  }

  static Hdf5Type datatype(Cursor& c) {
    Hdf5Type t;
    const uint8_t cv = c.u8();
    t.code = cv & 0x0F;
    const uint32_t bits = c.u8() | c.u8() << 8 | c.u8() << 16;
    t.size = c.u32();
    switch (t.code) {
      case 0:
        t.cls = Hdf5Type::Class::FixedPoint;
        t.little_endian = !(bits & 1);
        t.is_signed = bits & 0x08;
        t.bit_offset = c.u16();
        t.precision = c.u16();
        break;
      case 1:
        t.cls = Hdf5Type::Class::Float;
        t.little_endian = !(bits & 1) && !(bits & 0x40);
        t.sign_bit = static_cast<uint8_t>(bits >> 8);
        t.bit_offset = c.u16();
        t.precision = c.u16();
        t.exponent_bit = c.u8();
        t.exponent_bits = c.u8();
        t.mantissa_bit = c.u8();
        t.mantissa_bits = c.u8();
        t.exponent_bias = c.u32();
        break;
      case 3: t.cls = Hdf5Type::Class::String; break;
      case 5: t.cls = Hdf5Type::Class::Opaque; break;
      case 8: t.cls = Hdf5Type::Class::Enum; break;
      default: break;
    }
    return t;
  }

  std::vector<uint64_t> dataspace(Cursor& c, const std::string& what) {
    const uint8_t version = c.u8();
    if (version != 1 && version != 2) fail(what + ": dataspace version " + std::to_string(version) + " is unknown");
    const uint8_t rank = c.u8();
    c.u8();  // flags: maximum dimensions follow, not needed
    if (rank > kMaxDims) fail(what + " has " + std::to_string(rank) + " dimensions");
    if (version == 1) c.skip(5);
    else if (c.u8() == 2) fail(what + " has a null dataspace (no data)");
    std::vector<uint64_t> dims(rank);
    for (auto& d : dims) d = c.length();
    return dims;
  }

  // A variable-length string's bytes: a global heap collection's object.
  std::string global_heap_string(uint64_t collection, uint32_t index, uint32_t length, const std::string& what) {
    const uint64_t at = absolute(collection, what);
    const std::vector<uint8_t> head = block(at, 8 + sl_, what);
    Cursor c(*this, head.data(), head.size(), what);
    if (std::memcmp(c.take(4), "GCOL", 4) != 0) fail(what + ": global heap lacks its GCOL signature");
    c.skip(4);
    const uint64_t size = c.length();
    const std::vector<uint8_t> heap = block(at, size, what);
    Cursor h(*this, heap.data(), heap.size(), what);
    h.skip(8 + sl_);
    while (h.left() >= 8 + static_cast<size_t>(sl_)) {
      const uint16_t id = h.u16();
      h.skip(6);
      const uint64_t n = h.length();
      if (id == 0) break;
      if (n > h.left()) fail(what + ": a global heap object runs past its collection");
      const uint8_t* d = h.take(n);
      if (id == index) {
        if (length > n) fail(what + ": a string is longer than its heap object");
        return std::string(reinterpret_cast<const char*>(d), length);
      }
      h.skip(std::min<size_t>(h.left(), (8 - n % 8) % 8));
    }
    fail(what + ": global heap object " + std::to_string(index) + " is missing");
  }

  // The value of a string attribute (fixed or variable length, one
  // element), or nullopt for an attribute of another type.
  std::optional<std::pair<std::string, std::string>> attribute(const Message& m, const std::string& what) {
    Cursor c(*this, m.data.data(), m.data.size(), what + "'s attribute");
    const uint8_t version = c.u8();
    if (version < 1 || version > 3) fail(what + ": attribute message version " + std::to_string(version) + " is unknown");
    const uint8_t f = c.u8();
    if (f & 3) fail(what + " has an attribute with a shared type or dataspace, which this code does not read");
    const uint16_t name_size = c.u16(), type_size = c.u16(), space_size = c.u16();
    if (version == 3) c.skip(1);
    const auto pad = [&](size_t n) { return version == 1 ? (n + 7) / 8 * 8 : n; };
    const uint8_t* np = c.take(pad(name_size));
    const std::string name(reinterpret_cast<const char*>(np), strnlen(reinterpret_cast<const char*>(np), name_size));
    const size_t type_at = c.pos();
    const Hdf5Type type = datatype(c);
    const uint8_t* tp = m.data.data() + type_at;
    c.seek(type_at + pad(type_size));
    const size_t space_at = c.pos();
    const std::vector<uint64_t> dims = dataspace(c, what + "'s attribute '" + name + "'");
    c.seek(space_at + pad(space_size));
    uint64_t count = 1;
    for (uint64_t d : dims) count *= d;
    if (count != 1) return std::nullopt;
    if (type.cls == Hdf5Type::Class::String) {
      const uint8_t* v = c.take(type.size);
      const auto* s = reinterpret_cast<const char*>(v);
      return std::make_pair(name, std::string(s, strnlen(s, type.size)));
    }
    // Variable-length string (class 9, type 1): length, then a global heap ID.
    if (type.code == 9 && ((tp[1] & 0x0F) == 1)) {
      const uint32_t length = c.u32();
      const uint64_t collection = c.addr();
      const uint32_t index = c.u32();
      return std::make_pair(name, global_heap_string(collection, index, length, what + "'s attribute '" + name + "'"));
    }
    return std::nullopt;
  }

  Hdf5Dataset dataset(const std::vector<Message>& msgs, const std::string& name) {
    const std::string what = "dataset '" + name + "'";
    Hdf5Dataset d;
    d.name = name;
    bool have_type = false, have_space = false;
    for (const Message& m : msgs) {
      Cursor c(*this, m.data.data(), m.data.size(), what);
      switch (m.type) {
        case kDatatype: d.type = datatype(c); have_type = true; break;
        case kDataspace: d.shape = dataspace(c, what); have_space = true; break;
        case kFilters: fail(what + " is filtered (compressed), which this code does not read");
        case kExternal: fail(what + " keeps its data in external files, which this code does not read");
        case kAttributeInfo: {
          c.skip(1);
          if (c.u8() & 1) c.skip(2);
          if (c.addr() != kUndefined) fail(what + " keeps its attributes in dense storage, which this code does not read");
          break;
        }
        case kAttribute:
          if (auto a = attribute(m, what); a && a->first == "dtype") d.dtype_attribute = a->second;
          break;
        default: break;
      }
    }
    if (!have_type || !have_space) fail(what + " lacks its datatype or dataspace");
    uint64_t numel = 1;
    for (uint64_t dim : d.shape) {
      if (dim && numel > UINT64_MAX / dim) fail(what + "'s element count overflows");
      numel *= dim;
    }
    if (d.type.size && numel > UINT64_MAX / d.type.size) fail(what + "'s byte count overflows");
    const uint64_t bytes = numel * d.type.size;
    for (const Message& m : msgs) {
      if (m.type != kLayout) continue;
      Cursor c(*this, m.data.data(), m.data.size(), what + "'s layout");
      const uint8_t version = c.u8();
      if (version != 3 && version != 4) fail(what + " has a data layout message of version " + std::to_string(version) + " (3 and 4 are read)");
      const uint8_t cls = c.u8();
      uint64_t offset = 0, size = 0;
      if (cls == 0) {
        size = c.u16();
        offset = m.at + c.pos();
        c.skip(size);
      } else if (cls == 1) {
        const uint64_t a = c.addr();
        size = c.length();
        if (a == kUndefined) {
          if (bytes) fail(what + " has no data stored");
        } else {
          offset = absolute(a, what + "'s data");
        }
      } else {
        fail(what + " is stored in chunks (layout class " + std::to_string(cls) + "); only contiguous and compact datasets are read");
      }
      if (size != bytes)
        fail(what + " stores " + std::to_string(size) + " bytes, but its shape and type need " + std::to_string(bytes));
      if (offset > size_ || bytes > size_ - offset) fail(what + "'s data runs past the end of the file");
      d.offset = bytes ? offset : 0;
      d.bytes = bytes;
    }
    return d;
  }

  uint64_t size_;
  const Hdf5ReadAt& read_;
  std::string label_;
  int so_ = 8, sl_ = 8;
  uint64_t base_ = 0, root_ = 0, eof_ = 0;
  size_t chunks_ = 0;
  std::set<uint64_t> seen_;
  std::vector<Hdf5Dataset> out_;
};

uint64_t Cursor::u(size_t k) {
  const uint8_t* b = take(k);
  uint64_t v = 0;
  for (size_t j = k; j-- > 0;) v = v << 8 | b[j];
  return v;
}

uint64_t Cursor::addr() {
  const size_t k = static_cast<size_t>(p_.offset_size());
  const uint64_t v = u(k);
  return k < 8 && v == (1ull << (8 * k)) - 1 ? kUndefined : v;
}

uint64_t Cursor::length() { return u(static_cast<size_t>(p_.length_size())); }

const uint8_t* Cursor::take(size_t k) {
  if (k > n_ - i_) fail("ends early");
  const uint8_t* p = d_ + i_;
  i_ += k;
  return p;
}

void Cursor::seek(size_t i) {
  if (i > n_) fail("ends early");
  i_ = i;
}

void Cursor::fail(const std::string& why) const { p_.fail(what_ + " " + why); }

}  // namespace

std::optional<uint64_t> find_hdf5_signature(uint64_t file_size, const Hdf5ReadAt& read) {
  for (uint64_t at = 0; at < file_size && file_size - at >= 8; at = at ? 2 * at : 512) {
    char head[8];
    read(at, 8, head);
    if (std::memcmp(head, kSignature, 8) == 0) return at;
  }
  return std::nullopt;
}

std::vector<Hdf5Dataset> read_hdf5_datasets(uint64_t file_size, const Hdf5ReadAt& read, const std::string& label) {
  return Parser(file_size, read, label).run();
}

}  // namespace cocktail
