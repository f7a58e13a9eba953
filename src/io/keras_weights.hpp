#pragma once
// Keras 3 weights files as checkpoints: `model.weights.h5` (one HDF5 file,
// each variable a dataset `layers/<layer>/vars/<i>`), or a sharded save:
// `model.weights.json` (a weight map of vars groups to shard files) and
// `model_00000.weights.h5`, ... Tensors keep the names and shapes they are
// stored with; their bytes are read in place, like safetensors data.
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "io/safetensors.hpp"

namespace cocktail {

// True for a file with the HDF5 signature (at its start or after a user block).
bool is_hdf5_file(const std::filesystem::path& path);

// The datasets of one .weights.h5 file as tensors: begin/end are absolute
// file offsets; sorted by offset. Throws cocktail::Error naming the file and
// the dataset: an HDF5 layout this code does not read (hdf5_reader.hpp), an
// HDF5 type it cannot map to a tensor dtype, a `dtype` attribute it does not
// know, data ranges that overlap.
std::vector<TensorInfo> read_keras_weights(const std::filesystem::path& file);

// The weight map of a sharded save's .weights.json: vars group ("/layers/
// dense/vars") -> the shard files holding it. Throws naming `label`.
std::map<std::string, std::vector<std::string>> parse_keras_index(std::string_view text, const std::string& label);

// The group a tensor name belongs to in a weight map: "/layers/dense/vars"
// for "layers/dense/vars/0".
std::string keras_group_of(const std::string& tensor);

}  // namespace cocktail
