// The loader refuses libraries built for another descriptor layout or toolchain, naming the file and both values.
#include <gtest/gtest.h>

#include "slimpipe/core/plugin_registry.hpp"
#include "slimpipe/strategy.hpp"
#include "test_util.hpp"

using namespace slimpipe::core;
namespace fs = std::filesystem;

TEST(PluginLoader, RefusesAnotherDescriptorLayoutNamingFileAndBothValues) {
  fs::path f = fs::path(SLIMPIPE_TEST_BAD_PLUGIN_DIR) / "libslimpipe_test_bad_layout.so";
  try {
    PluginRegistry::load(f);
    FAIL() << "loaded a plugin of descriptor layout 999";
  } catch (const slimpipe::Error& e) {
    std::string m = e.what();
    EXPECT_EQ(m, f.string() + ": plugin descriptor layout 999 differs from the host's layout " +
                     std::to_string(slimpipe::kDescriptorLayout) + "; rebuild the plugin against this slimpipe SDK");
  }
}

TEST(PluginLoader, RefusesAnotherFingerprintNamingFileAndBothValues) {
  fs::path f = fs::path(SLIMPIPE_TEST_BAD_PLUGIN_DIR) / "libslimpipe_test_bad_fingerprint.so";
  try {
    PluginRegistry::load(f);
    FAIL() << "loaded a plugin with a foreign fingerprint";
  } catch (const slimpipe::Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find(f.string()), std::string::npos) << m;
    EXPECT_NE(m.find("'gcc-0.0/cxx11abi=0/torch=0.0'"), std::string::npos) << m;
    EXPECT_NE(m.find(std::string("'") + host_fingerprint() + "'"), std::string::npos) << m;
  }
}

TEST(PluginLoader, ListsGoodPluginsAndReportsRefusals) {
  auto r = testutil::run_command(testutil::cli() + " plugins --plugin-path " + SLIMPIPE_TEST_BAD_PLUGIN_DIR);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("sleep_record    strategy  1.0.0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("echo_task       task"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("refused:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("libslimpipe_test_bad_layout.so: plugin descriptor layout 999"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("libslimpipe_test_not_a_plugin.so: not a slimpipe plugin (no .slimpipe_plugin section)"),
            std::string::npos)
      << r.output;
  auto show = testutil::run_command(testutil::cli() + " plugins show sleep_record");
  ASSERT_EQ(show.exit_code, 0) << show.output;
  EXPECT_NE(show.output.find("sleep_ms"), std::string::npos);
  EXPECT_NE(show.output.find("one of: [\"normal\",\"fast\"]"), std::string::npos) << show.output;
}

TEST(PluginLoader, DiscoveryOrderPutsCommandLineBeforeEnvironment) {
  ::setenv("SLIMPIPE_PLUGIN_PATH", "/env/a:/env/b", 1);
  auto dirs = PluginRegistry::search_path({"/cli"});
  ::unsetenv("SLIMPIPE_PLUGIN_PATH");
  ASSERT_GE(dirs.size(), 4u);
  EXPECT_EQ(dirs[0], "/cli");
  EXPECT_EQ(dirs[1], "/env/a");
  EXPECT_EQ(dirs[2], "/env/b");
  EXPECT_EQ(dirs[3].filename(), "plugins");
}

TEST(PluginLoader, CreatedObjectsWorkAcrossTheBoundary) {
  const auto* info = testutil::test_registry().find("sleep_record");
  ASSERT_NE(info, nullptr);
  auto s = PluginRegistry::create_strategy(*info);
  auto outs = s->outputs(slimpipe::resolve_params(info->schema, {{"outputs", {"a", "b"}}}, "test"));
  EXPECT_EQ(outs, (std::vector<std::string>{"a", "b"}));
  EXPECT_THROW(PluginRegistry::create_task(*info), slimpipe::Error);
}

// A retired parameter crosses the descriptor's schema text and names what to write instead, at resolution too.
TEST(PluginLoader, RetiredParametersSurviveTheSchemaTextAndSayWhatToWriteInstead) {
  const auto schema = slimpipe::Schema::from_json(slimpipe::Schema()
                                                      .param("kept", slimpipe::ParamType::Int, 1, "still taken")
                                                      .retired("old", "use [nodes.x] new = V")
                                                      .to_json());
  ASSERT_NE(schema.retired_hint("old"), nullptr);
  EXPECT_EQ(*schema.retired_hint("old"), "use [nodes.x] new = V");
  EXPECT_EQ(schema.retired_hint("kept"), nullptr);
  EXPECT_EQ(schema.find("old"), nullptr);
  ASSERT_EQ(schema.specs().size(), 1u);
  try {
    slimpipe::resolve_params(schema, {{"old", 2}}, "[nodes.n]");
    FAIL() << "a retired parameter resolved";
  } catch (const slimpipe::Error& e) {
    EXPECT_STREQ(e.what(), "[nodes.n]: parameter 'old' is no longer taken: use [nodes.x] new = V");
  }
}
