// An out-of-tree slimpipe strategy plugin, built against the installed SDK: it writes an
// inventory (path, size, SHA-1) of every file of its input artifacts, and their total size.
#include <slimpipe/hash.hpp>
#include <slimpipe/io/checked_file.hpp>
#include <slimpipe/plugin.hpp>
#include <slimpipe/strategy.hpp>

namespace {

class Inventory final : public slimpipe::Strategy {
 public:
  using Interface = slimpipe::Strategy;

  void run(slimpipe::Context& ctx, const std::vector<slimpipe::Artifact>& inputs, const slimpipe::Params& p) override {
    const bool with_hashes = p.get_bool("hash_files");
    slimpipe::Json list = slimpipe::Json::array();
    std::uintmax_t total = 0;
    for (const auto& in : inputs) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(in.dir())) {
        ctx.throw_if_cancelled();
        if (!e.is_regular_file()) continue;
        slimpipe::Json item{{"artifact", in.id()},
                            {"path", std::filesystem::relative(e.path(), in.dir()).generic_string()},
                            {"size", e.file_size()}};
        if (with_hashes) item["sha1"] = slimpipe::Hasher().update_file(e.path()).hex();
        total += e.file_size();
        list.push_back(std::move(item));
      }
    }
    auto& out = ctx.output();
    // Checked write: a full disk fails the instance with "<file>: write failed: No space left on device".
    slimpipe::write_file_atomic(out.dir() / "inventory.json", list.dump(2) + "\n");
    out.set_kind("inventory");
    out.set_metric("total_bytes", static_cast<double>(total));
    out.set_metric("files", static_cast<double>(list.size()));
    ctx.log().info("listed " + std::to_string(list.size()) + " files, " + std::to_string(total) + " bytes");
  }
};

slimpipe::Schema schema() {
  return slimpipe::Schema().param("hash_files", slimpipe::ParamType::Bool, true, "record each file's SHA-1");
}

}  // namespace

SLIMPIPE_PLUGIN(Inventory, "inventory", "1.0.0", "lists the files of its input artifacts with sizes and hashes", schema)
