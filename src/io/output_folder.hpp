#pragma once
// The output's life cycle. Shards are written inside a staging folder beside
// the destination (same filesystem, so the final rename is atomic) and
// published only after every rank succeeded; a failed job removes it.
#include <filesystem>
#include <string>
#include <vector>

#include "plan/output_layout.hpp"

namespace cocktail {

// Absolute, normalised, without a trailing separator ("out/" is "out"), so
// the staging folder lands beside the output, never inside it.
std::filesystem::path clean_output_path(const std::filesystem::path& output);

// <parent>/.<name>.cocktail-staging
std::filesystem::path staging_path(const std::filesystem::path& output);

// <parent>/.<name>.cocktail-lock (io/output_lock)
std::filesystem::path lock_path(const std::filesystem::path& output);

// Refuses, before anything is created or removed:
//  - an output inside a model (`models`: the model paths as given) or a
//    model inside the output;
//  - any file the job reads (`files_read`: shards, indexes, side files,
//    examples, the config), symlinks resolved, inside the output or its
//    staging folder, which the job replaces;
//  - an output whose parent folder does not exist (nothing is created
//    outside the output, so a failed job leaves nothing behind);
//  - a name too long for the filesystem once the job's suffixes are added;
//  - an existing destination without `overwrite`.
// Throws cocktail::Error naming the input or the output.
void check_output_path(const std::filesystem::path& output, const std::vector<std::filesystem::path>& models,
                       const std::vector<std::filesystem::path>& files_read, bool overwrite);

// Creates the staging folder (replacing a stale one) and every shard file at
// its final size with its header in place, so ranks can pwrite anywhere.
// Each rank then reserves the space of its own ranges (stream_merge). A
// Keras layout gets only the folder: io/keras_h5_writer.hpp creates its files.
void create_staged_shards(const std::filesystem::path& staging, const OutputLayout& layout);

// Writes a small text file into the staging folder (index, config, report).
void write_staged_file(const std::filesystem::path& staging, const std::string& name,
                       const std::string& contents);

// Renames the staging folder to `output`, replacing an existing one when
// `overwrite` (the old folder is moved aside first and removed last).
void publish_output(const std::filesystem::path& staging, const std::filesystem::path& output,
                    bool overwrite);

// Best effort: used on the failure path, never throws.
void remove_staging(const std::filesystem::path& staging) noexcept;

}  // namespace cocktail
