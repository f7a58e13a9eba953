#include "io/keras_h5_writer.hpp"

#include <hdf5.h>

#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "io/json_strict.hpp"
#include "io/keras_weights.hpp"

#include <algorithm>

namespace cocktail {
namespace fs = std::filesystem;

namespace {

// One HDF5 handle, closed by its own function when it goes out of scope.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t), const std::string& what) : id_(id), close_(close) {
    if (id < 0) throw Error(what);
  }
  ~Handle() { close_(id_); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  operator hid_t() const { return id_; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

void check(herr_t status, const std::string& what) {
  if (status < 0) throw Error(what);
}

// The HDF5 type h5py gives the numpy dtype Keras saves for each tensor
// dtype; bf16 and float8, which numpy lacks, as Keras stores ml_dtypes'.
hid_t file_type(DType d) {
  switch (d) {
    case DType::F32: return H5Tcopy(H5T_IEEE_F32LE);
    case DType::F64: return H5Tcopy(H5T_IEEE_F64LE);
    case DType::F16: {
      const hid_t t = H5Tcopy(H5T_IEEE_F32LE);
      H5Tset_fields(t, 15, 10, 5, 0, 10);
      H5Tset_size(t, 2);
      H5Tset_ebias(t, 15);
      return t;
    }
    case DType::BF16: case DType::F8_E4M3: case DType::F8_E5M2: return H5Tcreate(H5T_OPAQUE, dtype_size(d));
    case DType::I8: return H5Tcopy(H5T_STD_I8LE);
    case DType::U8: return H5Tcopy(H5T_STD_U8LE);
    case DType::I16: return H5Tcopy(H5T_STD_I16LE);
    case DType::U16: return H5Tcopy(H5T_STD_U16LE);
    case DType::I32: return H5Tcopy(H5T_STD_I32LE);
    case DType::U32: return H5Tcopy(H5T_STD_U32LE);
    case DType::I64: return H5Tcopy(H5T_STD_I64LE);
    case DType::U64: return H5Tcopy(H5T_STD_U64LE);
    case DType::BOOL: {  // numpy's bool as h5py stores it
      const hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
      const int8_t no = 0, yes = 1;
      H5Tenum_insert(t, "FALSE", &no);
      H5Tenum_insert(t, "TRUE", &yes);
      return t;
    }
    default: return -1;
  }
}

const char* keras_dtype_mark(DType d) {
  switch (d) {
    case DType::BF16: return "bfloat16";
    case DType::F8_E4M3: return "float8_e4m3fn";
    case DType::F8_E5M2: return "float8_e5m2";
    default: return nullptr;
  }
}

// Keras reads the mark as a Python str: a variable-length UTF-8 string, as
// h5py writes one.
void mark_dtype(hid_t dataset, const char* mark, const std::string& what) {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose, what);
  check(H5Tset_size(type, H5T_VARIABLE), what);
  check(H5Tset_cset(type, H5T_CSET_UTF8), what);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose, what);
  Handle attr(H5Acreate2(dataset, "dtype", type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose, what);
  check(H5Awrite(attr, type, &mark), what);
}

void create_shard(MPI_Comm comm, const fs::path& file, const OutputShard& shard, const std::vector<PlannedTensor>& tensors) {
  const std::string label = file.string();
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, label + ": cannot set up parallel HDF5");
  if (comm != MPI_COMM_NULL) {
    check(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL), label + ": cannot set up parallel HDF5 (MPI-IO)");
    check(H5Pset_all_coll_metadata_ops(fapl, true), label);
    check(H5Pset_coll_metadata_write(fapl, true), label);
  }
  Handle f(H5Fcreate(label.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl), H5Fclose, label + ": cannot create the HDF5 file");
  // Timestamps would make two runs of one job differ.
  Handle gcpl(H5Pcreate(H5P_GROUP_CREATE), H5Pclose, label);
  check(H5Pset_obj_track_times(gcpl, false), label);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, label);
  check(H5Pset_obj_track_times(dcpl, false), label);
  check(H5Pset_layout(dcpl, H5D_CONTIGUOUS), label);
  check(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY), label);
  check(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER), label);
  std::set<std::string> groups;
  for (size_t i : shard.tensors) {
    const PlannedTensor& t = tensors[i];
    const std::string what = label + ": dataset " + quote_name(t.name);
    if (t.name.empty() || t.name.front() == '/' || t.name.back() == '/' || t.name.find("//") != std::string::npos)
      throw Error(what + ": not a Keras variable path (layers/<layer>/vars/<i>)");
    for (size_t at = t.name.find('/'); at != std::string::npos; at = t.name.find('/', at + 1)) {
      const std::string group = t.name.substr(0, at);
      if (groups.insert(group).second)
        Handle g(H5Gcreate2(f, group.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT), H5Gclose, what + ": cannot create group " + quote_name(group));
    }
    Handle type(file_type(t.out_dtype), H5Tclose, what + ": no HDF5 type for this dtype");
    std::vector<hsize_t> dims(t.shape.begin(), t.shape.end());
    Handle space(dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                 H5Sclose, what);
    Handle d(H5Dcreate2(f, t.name.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose,
             what + ": cannot create it (a group of that name?)");
    if (const char* mark = keras_dtype_mark(t.out_dtype)) mark_dtype(d, mark, what);
  }
}

}  // namespace

void create_keras_shards(MPI_Comm comm, const fs::path& staging, const OutputLayout& layout,
                         const std::vector<PlannedTensor>& tensors) {
  // HDF5 prints its own error stack to stderr; our message says it in one line.
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  for (const OutputShard& shard : layout.shards) create_shard(comm, staging / shard.file_name, shard, tensors);
}

void read_keras_offsets(const fs::path& staging, OutputLayout& layout, const std::vector<PlannedTensor>& tensors) {
  for (const OutputShard& shard : layout.shards) {
    const fs::path file = staging / shard.file_name;
    std::map<std::string, TensorInfo> stored;
    for (TensorInfo& t : read_keras_weights(file)) stored.emplace(t.name, t);
    for (size_t i : shard.tensors) {
      const PlannedTensor& t = tensors[i];
      auto it = stored.find(t.name);
      if (it == stored.end() || it->second.dtype != t.out_dtype || it->second.shape != t.shape)
        throw Error(file.string() + ": dataset " + quote_name(t.name) + " is not the planned " + format_shape(t.shape) +
                    " tensor (the staged file changed?)");
      layout.file_offset[i] = it->second.begin;
    }
  }
}

std::string keras_index_json(const OutputLayout& layout, const std::vector<PlannedTensor>& tensors) {
  nlohmann::ordered_json map = nlohmann::ordered_json::object();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const std::string group = keras_group_of(tensors[i].name);
    const std::string& file = layout.shards[layout.shard_of[i]].file_name;
    nlohmann::ordered_json& files = map[group];
    if (files.is_null()) files = nlohmann::ordered_json::array();
    if (std::find(files.begin(), files.end(), file) == files.end()) files.push_back(file);
  }
  nlohmann::ordered_json root;
  root["metadata"] = {{"total_size", layout.total_tensor_bytes}};
  root["weight_map"] = map;
  return root.dump(4) + "\n";
}

}  // namespace cocktail
