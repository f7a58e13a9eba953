#pragma once
// GPU tests skip, visibly and with the reason, where no device is usable;
// ctest reports them as skipped (SKIP_REGULAR_EXPRESSION), never as passed.
#include <gtest/gtest.h>

#include "gpu/cuda_device.hpp"

#define COCKTAIL_REQUIRE_GPUS(n)                                                         \
  do {                                                                                   \
    const ::cocktail::GpuProbe probe_ = ::cocktail::cuda::probe_gpus();                        \
    if (probe_.count < (n))                                                              \
      GTEST_SKIP() << "needs " << (n) << " GPU(s), found " << probe_.count                \
                   << (probe_.reason.empty() ? "" : " (" + probe_.reason + ")");          \
  } while (0)
