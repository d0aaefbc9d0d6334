// The typed contracts between the artifacts a strategy writes and the plugins and run report that read them
// (docs/plugins.md, "Model artifacts"). Both live in manifest.json as versioned blocks; a reader validates them
// and names the file and key of anything malformed:
//
//   "model":      ModelManifest, written by every strategy that saves a model (or evaluates one): what it is, the
//                 metric it is judged by, what it was made from, its sizes, fidelity and latency.
//   "assessment": Assessment, written by a node that measured other artifacts (rank): their latency, intervals and
//                 fidelity as it measured them, which one it chose, and a paragraph for the run report.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "slimpipe/artifact.hpp"
#include "slimpipe/export.hpp"
#include "slimpipe/params.hpp"

namespace slimpipe {

namespace fs = std::filesystem;

// A model folder and its artifact id ("the pipeline's [model]" has the id "model").
struct ModelRef {
  std::string id;
  fs::path dir;
};

// Latency at one batch size, in milliseconds; speedup against the measuring node's fp32 baseline.
struct Latency {
  double p50_ms = 0, p90_ms = 0;
  std::optional<double> speedup;
};

struct SLIMPIPE_API ModelManifest {
  static constexpr int kVersion = 1;

  std::string kind;                     // "model" (fp32), "quantized_model", or "evaluation" (a model evaluated)
  std::string primary_metric;           // the key of the artifact's metrics it is judged by; empty: none
  std::optional<ModelRef> input_model;  // the model it was made from (pruned, quantized)
  std::optional<double> input_metric;   // that model's primary metric, as this plugin measured it
  std::optional<double> origin_metric;  // the unpruned model's, when input_model was itself made from one
  std::optional<std::int64_t> param_count;
  std::optional<std::int64_t> model_bytes;  // the stored weights (INT8 bytes for a quantized model)
  std::optional<double> width;              // fraction of attention heads and FFN neurons kept; 1 unpruned
  std::string label;                        // a short name for the variant, e.g. a PTQ cell's "KL4_1"
  Json parameters = Json::object();         // what made it, as the plugin summarises it
  std::optional<double> logit_sqnr_db;      // output logits against input_model, dB
  std::optional<double> agreement;          // fraction of examples predicted as input_model predicts them
  // Output SQNR (dB) per quantized site, most sensitive first.
  std::vector<std::pair<std::string, double>> site_sensitivity;
  std::map<std::int64_t, Latency> latency;  // by batch size, where the plugin timed the model itself
  bool latency_noisy = false;

  Json to_json() const;
  // Stores the block as manifest()["model"] and sets the artifact's kind to `kind`.
  void write(OutputArtifact& out) const;

  // The block of a manifest: std::nullopt when it has none (not a model). Throws Error "<where>: model.<key>: ..."
  // when it is malformed or from a newer contract version. A manifest from before the block existed is read from
  // its top-level primary_metric, input_model, param_count and width. model_bytes defaults to the size the
  // manifest's file list records for model.safetensors.
  static std::optional<ModelManifest> read(const Json& manifest, const std::string& where);
  static std::optional<ModelManifest> read(const Artifact& a);
};

// What one node measured of another artifact.
struct SLIMPIPE_API AssessedModel {
  std::string id;
  std::string role;              // "candidate", "baseline", "fp32 parent"
  std::optional<double> metric;  // its primary metric, as the node measured it
  std::map<std::int64_t, Latency> latency;
  bool latency_noisy = false;
  std::optional<double> delta_low, delta_high;     // interval of its metric minus the assessment's baseline's
  std::optional<double> logit_sqnr_db, agreement;  // against the fp32 model it was made from
  // Δ as the assessor computed it against `reference` (a model outside the run, such as the unpruned one).
  std::optional<double> reference, delta;

  Json to_json() const;
  // `self`: the assessing node's own model, whose id may be empty.
  static AssessedModel from_json(const Json& j, const std::string& where, bool self = false);
};

struct SLIMPIPE_API Assessment {
  static constexpr int kVersion = 1;

  std::string baseline;  // the id every interval is against; empty: none
  std::string best;      // the id of the artifact this node chose (its own folder holds that model); empty: none
  std::vector<AssessedModel> models;
  // This node's own model, where it is not simply `best` (rank's fallback made a new one): its figures.
  std::optional<AssessedModel> self;
  Json summary = Json::object();  // the run report's entry for this node (summary.json "rankings")
  std::string section;            // one paragraph for report.md / report.html: what was chosen and how
  std::string details;            // a file in the node's folder with every figure (rank: "ranking.md"), linked

  Json to_json() const;
  void write(OutputArtifact& out) const;  // manifest()["assessment"]
  // std::nullopt when the manifest has none; Error "<where>: assessment.<key>: ..." when malformed.
  static std::optional<Assessment> read(const Json& manifest, const std::string& where);
};

// The size of <dir>/model.safetensors (the HF folder's weights), std::nullopt when absent.
SLIMPIPE_API std::optional<std::int64_t> model_weights_bytes(const fs::path& dir);

}  // namespace slimpipe
