#pragma once
// The Keras 3 output: HDF5 files created by every rank at once with
// parallel HDF5 (MPI-IO), each planned tensor a contiguous dataset allocated
// up front, so that ranks then write their units in place at the offsets
// HDF5 chose, exactly as they write safetensors shards.
#include <mpi.h>

#include <filesystem>
#include <string>
#include <vector>

#include "plan/output_layout.hpp"
#include "plan/tensor_plan.hpp"

namespace cocktail {

// Collective over `comm` (MPI_COMM_NULL: one process without MPI, which
// creates them with HDF5's default driver, to the same bytes): creates every
// shard of a Keras layout in `staging`: groups and datasets named as the
// tensors (Keras's layers/<layer>/vars/<i>), bf16 and float8 as 1- or 2-byte
// opaque data with the `dtype` attribute Keras reads, no timestamps (the same
// bytes at any rank count), data allocated contiguous and not filled. Throws
// cocktail::Error naming the file and the dataset.
void create_keras_shards(MPI_Comm comm, const std::filesystem::path& staging, const OutputLayout& layout,
                         const std::vector<PlannedTensor>& tensors);

// Fills layout.file_offset from the staged files (read back with
// io/keras_weights.hpp, on a fresh run and on a resumed one alike); throws
// when a staged file does not hold the planned tensor, dtype and shape.
void read_keras_offsets(const std::filesystem::path& staging, OutputLayout& layout,
                        const std::vector<PlannedTensor>& tensors);

// model.weights.json of a sharded save: each vars group to its shard files.
std::string keras_index_json(const OutputLayout& layout, const std::vector<PlannedTensor>& tensors);

}  // namespace cocktail
