// Constructors of the concrete observers, one family per file; make_observer (observer.cpp) picks among them
// after validating the options, so each family sees only valid, defaulted values.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "slimpipe/quant/observer.hpp"

namespace slimpipe::quant::detail {

// Options with every optional resolved to the algorithm's default.
struct ResolvedOptions {
  double hist_percent = 0.9999;
  double percentile = 99.99;
  std::int64_t bins = 2048;
  bool paddle_compat = false;
  bool onnx_format = true;
  int bits = 8;
};

// "abs_max", "min_max", "avg" (range_observers.cpp).
std::unique_ptr<ActivationObserver> make_range_observer(const std::string& algo, const ResolvedOptions& options);
// "mse", "emd" (grid_search_observers.cpp).
std::unique_ptr<ActivationObserver> make_grid_search_observer(const std::string& algo, const ResolvedOptions& options);
// "hist", "KL", "percentile" (histogram_observers.cpp).
std::unique_ptr<ActivationObserver> make_histogram_observer(const std::string& algo, const ResolvedOptions& options);

}  // namespace slimpipe::quant::detail
