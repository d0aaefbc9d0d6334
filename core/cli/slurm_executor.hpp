// `slimpipe run --executor slurm`: every instance that must run becomes a Slurm job running `slimpipe
// run-instance` (one job array per node, `afterok` dependencies from the DAG); the submitter records the jobs in
// <run>/.slurm/jobs.json, polls squeue and the run folder, cancels its jobs on Ctrl-C, and returns the same summary
// a local run does.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "slimpipe/core/executor.hpp"
#include "slimpipe/core/pipeline_spec.hpp"
#include "slimpipe/core/plan.hpp"

namespace slimpipe::cli {

namespace fs = std::filesystem;

struct SlurmRunOptions {
  fs::path exe;       // the slimpipe binary the jobs run
  fs::path pipeline;  // absolute
  std::vector<std::string> plugin_paths, sets;
  std::vector<std::string> slurm_opts;  // passed to sbatch as they are ("--partition=x"; "partition=x" too)
  std::string claim_timeout;            // passed to run-instance when not empty
  std::chrono::milliseconds poll{2000};
};

core::RunSummary run_on_slurm(const core::PipelineSpec& spec, const core::Plan& plan, const SlurmRunOptions& opts);

// The job of each instance the last Slurm run of `run_dir` submitted (<run>/.slurm/jobs.json).
struct SlurmJobRef {
  std::string job;  // "123" or "123_4" (an array task)
  std::string log;  // relative to the run folder
};
std::map<std::string, SlurmJobRef> read_slurm_jobs(const fs::path& run_dir);

// squeue's state of every job it lists (array tasks one by one: "123_4" -> "RUNNING"); empty when squeue is not
// there or fails.
std::map<std::string, std::string> squeue_states();

}  // namespace slimpipe::cli
