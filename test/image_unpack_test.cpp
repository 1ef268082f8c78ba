// Layer unpacking (agent/image/layer_unpack.h): real tars written with libarchive, unpacked
// on the real file system, hostile ones included, then stacked by copying.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "agent/image/layer_unpack.h"
#include "test/support/oci_builder.h"
#include "test/support/temp_dir.h"

using namespace tug::agent::image;
using tug::testing::Gzip;
using tug::testing::MakeTar;
using tug::testing::Sha256;
using tug::testing::TarEntry;
using namespace tug::testing;
using tug::testing::TempDir;
namespace fs = std::filesystem;
using T = TarEntry::Type;

namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Layer {
  std::string blob_path, diff_id;
};

Layer WriteLayer(const std::string& dir, const std::string& name, const std::string& tar,
                 bool gzip) {
  Layer l{dir + "/" + name, Sha256(tar)};
  std::ofstream(l.blob_path, std::ios::binary) << (gzip ? Gzip(tar) : tar);
  return l;
}

bool IsWhiteout(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

bool IsOpaque(const std::string& path) {
  char v[2];
  return ::getxattr(path.c_str(), "trusted.overlay.opaque", v, sizeof v) == 1 && v[0] == 'y';
}

#define REQUIRE_ROOT()                                                               \
  if (::geteuid() != 0) {                                                            \
    WARN("skipped: unpacking whiteouts and ownership needs root (CI runs as root)"); \
    return;                                                                          \
  }

}  // namespace

TEST_CASE("a layer unpacks with files, links, modes and its diff_id checked", "[image]") {
  REQUIRE_ROOT();
  TempDir dir{"tug-unpack"};
  for (bool gzip : {true, false}) {
    std::string tar = MakeTar({
        Dir("./", 0755),  // the root itself, as GNU tar and umoci write it: nothing to make
        Dir("./etc/", 0755),
        File("./etc/hostname", "box\n", 0644),
        File("usr/bin/tool", "#!/bin/sh\necho hi\n", 04755),  // parent not listed
        Hardlink("usr/bin/tool2", "usr/bin/tool"),
        Symlink("bin", "usr/bin"),
        Special(T::kFifo, "run/fifo"),
        Special(T::kCharDevice, "dev/null"),
        File("home/app/data", "x", 0600, 1000, 1000),
    });
    auto layer = WriteLayer(dir.path, gzip ? "l.tgz" : "l.tar", tar, gzip);
    std::string root = dir.path + (gzip ? "/root-gz" : "/root-tar");
    fs::create_directory(root);
    auto r = UnpackLayer(layer.blob_path, gzip, layer.diff_id, root);
    INFO((r.ok() ? "" : r.status().message()));
    REQUIRE(r.ok());
    CHECK(r->entries == 9);
    CHECK(r->skipped == 1);  // the device
    CHECK(r->bytes == static_cast<int64_t>(tar.size()));
    CHECK(Slurp(root + "/etc/hostname") == "box\n");
    CHECK(Slurp(root + "/bin/tool") == "#!/bin/sh\necho hi\n");  // through the link
    struct stat a, b;
    REQUIRE(::stat((root + "/usr/bin/tool").c_str(), &a) == 0);
    REQUIRE(::stat((root + "/usr/bin/tool2").c_str(), &b) == 0);
    CHECK(a.st_ino == b.st_ino);
    CHECK((a.st_mode & 07777) == 04755);
    CHECK(fs::is_symlink(root + "/bin"));
    CHECK(fs::read_symlink(root + "/bin") == "usr/bin");
    CHECK(fs::is_fifo(root + "/run/fifo"));
    CHECK(!fs::exists(fs::symlink_status(root + "/dev/null")));
    REQUIRE(::stat((root + "/home/app/data").c_str(), &a) == 0);
    CHECK(a.st_uid == 1000);
    CHECK((a.st_mode & 0777) == 0600);
  }
}

TEST_CASE("a layer whose content is not its diff_id is refused", "[image]") {
  REQUIRE_ROOT();
  TempDir dir{"tug-unpack"};
  std::string tar = MakeTar({File("a", "1")});
  auto layer = WriteLayer(dir.path, "l.tgz", tar, true);
  std::string other = Sha256("something else");
  fs::create_directory(dir.path + "/root");
  auto r = UnpackLayer(layer.blob_path, true, other, dir.path + "/root");
  REQUIRE(!r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains(other) && Catch::Contains(layer.diff_id));

  // A root entry that is not a directory would replace the root: refused.
  std::string bad = MakeTar({File(".", "x")});
  auto bad_layer = WriteLayer(dir.path, "bad.tar", bad, false);
  fs::create_directory(dir.path + "/root3");
  r = UnpackLayer(bad_layer.blob_path, false, bad_layer.diff_id, dir.path + "/root3");
  REQUIRE(!r.ok());  // by libarchive or by us, never unpacked

  // A truncated gzip stream is an error too, not a short layer.
  std::string gz = Gzip(tar);
  std::ofstream(dir.path + "/cut.tgz", std::ios::binary) << gz.substr(0, gz.size() / 2);
  fs::create_directory(dir.path + "/root2");
  r = UnpackLayer(dir.path + "/cut.tgz", true, layer.diff_id, dir.path + "/root2");
  REQUIRE(!r.ok());
}

TEST_CASE("a hostile layer never writes outside its root", "[image]") {
  REQUIRE_ROOT();
  TempDir dir{"tug-unpack"};
  std::string outside = dir.path + "/outside";
  fs::create_directory(outside);
  std::ofstream(outside + "/victim") << "untouched";
  // A name no one else uses in the host's /tmp, which a layer tries to write to.
  std::string stray = "tug-unpack-stray-" + std::to_string(::getpid());

  struct Case {
    const char* what;
    std::vector<TarEntry> entries;
    bool refused;  // the whole layer is refused (else it unpacks, contained)
  };
  std::vector<Case> cases = {
      {"a ../ name", {File("../outside/victim", "owned")}, true},
      {"a deep ../ name", {File("a/b/../../../outside/victim", "owned")}, true},
      {"a hard link to ../", {Hardlink("h", "../outside/victim")}, true},
      // A link to an absolute path is kept as written, and what is written through it lands
      // inside the root: the link resolves there, as it will inside the container. Where the
      // root has no such directory, the entry is refused.
      {"an absolute symlink, then a file through it",
       {Dir("tmp"), Symlink("escape", "/tmp"), File("escape/" + stray, "owned")},
       false},
      {"an absolute symlink to a directory only the host has, then a file through it",
       {Symlink("escape", outside), File("escape/victim", "owned")},
       true},
      {"a relative symlink that climbs, then a file through it",
       {Symlink("up", "../../../../../../../.."), File("up" + outside + "/victim", "owned")},
       false},
      {"a symlink, then a hard link through it",
       {Symlink("escape", outside), Hardlink("h", "escape/victim")},
       true},  // the target does not exist inside the root
      {"a symlink replaced by a directory of the same name",
       {Symlink("d", outside), Dir("d"), File("d/victim", "owned")},
       false},
  };
  int n = 0;
  for (const auto& c : cases) {
    INFO(c.what);
    std::string tar = MakeTar(c.entries);
    auto layer = WriteLayer(dir.path, "l" + std::to_string(n) + ".tar", tar, false);
    std::string root = dir.path + "/root" + std::to_string(n++);
    fs::create_directory(root);
    auto r = UnpackLayer(layer.blob_path, false, layer.diff_id, root);
    if (c.refused) {
      CHECK(!r.ok());
    } else {
      INFO((r.ok() ? "" : r.status().message()));
      CHECK(r.ok());
    }
    CHECK(Slurp(outside + "/victim") == "untouched");
    CHECK(fs::directory_iterator(outside) != fs::directory_iterator());
    CHECK(std::distance(fs::directory_iterator(outside), fs::directory_iterator()) == 1);
  }
  // Where the contained writes went: inside the roots.
  CHECK(!fs::exists("/tmp/" + stray));
  CHECK(Slurp(dir.path + "/root3/tmp/" + stray) == "owned");
  CHECK(Slurp(dir.path + "/root5" + outside + "/victim") == "owned");
  CHECK(Slurp(dir.path + "/root7/d/victim") == "owned");
}

TEST_CASE("whiteouts and opaque directories are kept for overlayfs and applied by copying",
          "[image]") {
  REQUIRE_ROOT();
  TempDir dir{"tug-unpack"};
  std::string base = MakeTar({
      Dir("etc/", 0755),
      File("etc/keep", "k"),
      File("etc/gone", "g"),
      Dir("var/cache/", 0755),
      File("var/cache/a", "a"),
      File("var/cache/b", "b"),
      Symlink("lib", "usr/lib"),
      File("usr/lib/libx.so", "x"),
      Hardlink("usr/lib/libx.so.1", "usr/lib/libx.so"),
  });
  std::string top = MakeTar({
      File("etc/.wh.gone"), File("var/cache/.wh..wh..opq"), File("var/cache/c", "c"),
      File("etc/.wh.absent-here"), File("etc/new", "n"),
      File("etc/.wh.new"),  // something of that name in the same layer stays
  });
  auto l1 = WriteLayer(dir.path, "base.tgz", base, true);
  auto l2 = WriteLayer(dir.path, "top.tgz", top, true);
  std::string d1 = dir.path + "/l1", d2 = dir.path + "/l2";
  fs::create_directory(d1);
  fs::create_directory(d2);
  REQUIRE(UnpackLayer(l1.blob_path, true, l1.diff_id, d1).ok());
  auto r = UnpackLayer(l2.blob_path, true, l2.diff_id, d2);
  INFO((r.ok() ? "" : r.status().message()));
  REQUIRE(r.ok());
  CHECK(IsWhiteout(d2 + "/etc/gone"));
  CHECK(IsWhiteout(d2 + "/etc/absent-here"));
  CHECK(IsOpaque(d2 + "/var/cache"));
  CHECK(Slurp(d2 + "/etc/new") == "n");

  std::string root = dir.path + "/rootfs";
  fs::create_directory(root);
  REQUIRE(ApplyLayerDir(d1, root).ok());
  REQUIRE(ApplyLayerDir(d2, root).ok());
  CHECK(Slurp(root + "/etc/keep") == "k");
  CHECK(!fs::exists(fs::symlink_status(root + "/etc/gone")));
  CHECK(!fs::exists(fs::symlink_status(root + "/etc/absent-here")));
  CHECK(Slurp(root + "/etc/new") == "n");
  CHECK(!fs::exists(root + "/var/cache/a"));
  CHECK(!fs::exists(root + "/var/cache/b"));
  CHECK(Slurp(root + "/var/cache/c") == "c");
  CHECK(!IsOpaque(root + "/var/cache"));
  CHECK(fs::read_symlink(root + "/lib") == "usr/lib");
  struct stat a, b;
  REQUIRE(::stat((root + "/usr/lib/libx.so").c_str(), &a) == 0);
  REQUIRE(::stat((root + "/usr/lib/libx.so.1").c_str(), &b) == 0);
  CHECK(a.st_ino == b.st_ino);
  // The copy is the root's own: the layer directories are untouched.
  CHECK(Slurp(d1 + "/etc/gone") == "g");
}
