// How an image layer's tar entries map onto the root being built
// (agent/image/layer_paths.h): cleaned names, whiteouts, opaque directories, and names that
// would climb out of the root refused.
#include <catch2/catch.hpp>

#include "agent/image/layer_paths.h"

using namespace tug::agent::image;

TEST_CASE("layer entry names are cleaned, and none may leave the root", "[agent][image]") {
  CHECK(CleanLayerPath("./usr//bin/env").value() == "usr/bin/env");
  CHECK(CleanLayerPath("/etc/passwd").value() == "etc/passwd");  // as tar does
  CHECK(CleanLayerPath("usr/lib/../bin/").value() == "usr/bin");
  CHECK(CleanLayerPath("a/../../..").status().message() ==
        "layer entry \"a/../../..\" points outside the image's root");
  CHECK_FALSE(CleanLayerPath("../etc/cron.d/evil").ok());
  CHECK_FALSE(CleanLayerPath("/../../etc/shadow").ok());
  CHECK(CleanLayerPath("./").value().empty());
}

TEST_CASE("whiteouts remove what lower layers put there, opaque markers hide a directory",
          "[agent][image]") {
  auto w = ClassifyLayerEntry("etc/.wh.motd");
  REQUIRE(w.ok());
  CHECK(w->kind == LayerPath::Kind::kWhiteout);
  CHECK(w->path == "etc/motd");
  auto top = ClassifyLayerEntry(".wh.tmp");
  REQUIRE(top.ok());
  CHECK(top->path == "tmp");
  auto o = ClassifyLayerEntry("var/cache/apt/.wh..wh..opq");
  REQUIRE(o.ok());
  CHECK(o->kind == LayerPath::Kind::kOpaque);
  CHECK(o->path == "var/cache/apt");
  auto e = ClassifyLayerEntry("./usr/bin/psql");
  REQUIRE(e.ok());
  CHECK(e->kind == LayerPath::Kind::kEntry);
  CHECK(e->path == "usr/bin/psql");
  CHECK_FALSE(ClassifyLayerEntry("etc/.wh.").ok());
  CHECK_FALSE(ClassifyLayerEntry("etc/.wh...").ok());
  CHECK_FALSE(ClassifyLayerEntry("../.wh.x").ok());
  // The root itself, as GNU tar and umoci write it first: nothing to create.
  CHECK(ClassifyLayerEntry("./")->kind == LayerPath::Kind::kRoot);
  CHECK(ClassifyLayerEntry(".")->kind == LayerPath::Kind::kRoot);
}
