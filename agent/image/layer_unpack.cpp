#include "agent/image/layer_unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "agent/image/digest.h"
#include "agent/image/layer_paths.h"

namespace tug::agent::image {

namespace {

constexpr const char* kOpaqueXattr = "trusted.overlay.opaque";

std::string Errno(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

// A file descriptor that closes itself.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

bool openat2_missing = false;  // set once the kernel said ENOSYS

// Opens `path` (relative, cleaned) as a directory resolved inside `root`: a symbolic link on
// the way is followed as if `root` were "/". Without openat2 (kernels before 5.6) it refuses
// to go through links at all, which is safe and only stricter.
Result<Fd> OpenDirInRoot(int root, const std::string& path) {
  if (path.empty()) {
    int fd = ::openat(root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::Error(Errno("cannot open the layer root"));
    return Fd(fd);
  }
  if (!openat2_missing) {
    struct open_how how {};
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    long fd = ::syscall(SYS_openat2, root, path.c_str(), &how, sizeof how);
    if (fd >= 0) return Fd(static_cast<int>(fd));
    if (errno != ENOSYS) return Status::NotFound(Errno(path));
    openat2_missing = true;
  }
  Fd cur(::openat(root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    std::string comp =
        path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    int fd = ::openat(cur.get(), comp.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Status::NotFound(Errno(path));
    cur = Fd(fd);
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return cur;
}

std::string Dirname(const std::string& p) {
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? "" : p.substr(0, slash);
}

std::string Basename(const std::string& p) {
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

// Opens the directory `path` inside `root`, creating what is missing (mode 0755, as tar does
// for directories the archive did not list before their contents).
Result<Fd> MkdirAllInRoot(int root, const std::string& path) {
  auto fd = OpenDirInRoot(root, path);
  if (fd.ok() || path.empty()) return fd;
  if (errno != ENOENT) return fd.status();
  auto parent = MkdirAllInRoot(root, Dirname(path));
  if (!parent.ok()) return parent.status();
  std::string name = Basename(path);
  if (::mkdirat(parent->get(), name.c_str(), 0755) != 0 && errno != EEXIST)
    return Status::Error(Errno("cannot create the directory " + path));
  return OpenDirInRoot(root, path);
}

// The names in the directory `fd` refers to (the descriptor itself is left as it is).
Result<std::vector<std::string>> ListDir(int fd, const std::string& what) {
  DIR* d = ::fdopendir(::openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!d) return Status::Error(Errno("cannot list " + what));
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  return names;
}

// Removes `name` in `dir` and, for a directory, everything under it, without following links.
Status RemoveAllAt(int dir, const std::string& name) {
  if (::unlinkat(dir, name.c_str(), 0) == 0 || errno == ENOENT) return Status::Ok();
  if (errno != EISDIR && errno != EPERM) return Status::Error(Errno("cannot remove " + name));
  Fd sub(::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!sub.ok()) return Status::Error(Errno("cannot open " + name));
  auto children = ListDir(sub.get(), name);
  if (!children.ok()) return children.status();
  for (const auto& c : *children)
    if (auto s = RemoveAllAt(sub.get(), c); !s.ok()) return s;
  if (::unlinkat(dir, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
    return Status::Error(Errno("cannot remove " + name));
  return Status::Ok();
}

// The uncompressed tar stream: the blob, inflated if gzip, hashed as it passes.
struct Source {
  Fd fd;
  bool gzip = false;
  z_stream z{};
  bool z_ready = false;
  bool z_end = false;  // the last gzip member ended and no input follows
  std::vector<unsigned char> in = std::vector<unsigned char>(64 * 1024);
  std::vector<unsigned char> out = std::vector<unsigned char>(256 * 1024);
  std::unique_ptr<Hasher> hasher;
  int64_t bytes = 0;
  std::string error;

  ~Source() {
    if (z_ready) inflateEnd(&z);
  }

  // The next piece of the uncompressed stream; 0 at its end; -1 on error.
  ssize_t Next(const void** buf) {
    if (!gzip) {
      ssize_t n = ::read(fd.get(), out.data(), out.size());
      if (n < 0) {
        error = Errno("reading the layer");
        return -1;
      }
      return Count(n, buf);
    }
    if (z_end) return 0;
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    while (z.avail_out == out.size()) {
      if (z.avail_in == 0) {
        ssize_t n = ::read(fd.get(), in.data(), in.size());
        if (n < 0) {
          error = Errno("reading the layer");
          return -1;
        }
        if (n == 0) {
          error = "the layer's gzip stream is truncated";
          return -1;
        }
        z.next_in = in.data();
        z.avail_in = static_cast<uInt>(n);
      }
      int rc = inflate(&z, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        // Another gzip member may follow (concatenated members are one valid gzip stream,
        // as Go's reader and GNU gzip both read them); anything else after the end is an error.
        if (z.avail_in == 0) {
          unsigned char peek;
          ssize_t n = ::read(fd.get(), &peek, 1);
          if (n == 1) {
            in[0] = peek;
            z.next_in = in.data();
            z.avail_in = 1;
          }
        }
        if (z.avail_in == 0) {
          z_end = true;
          break;
        }
        inflateReset(&z);
        continue;
      }
      if (rc != Z_OK && rc != Z_BUF_ERROR) {
        error = std::string("the layer is not valid gzip: ") + (z.msg ? z.msg : "inflate failed");
        return -1;
      }
    }
    return Count(static_cast<ssize_t>(out.size() - z.avail_out), buf);
  }

  ssize_t Count(ssize_t n, const void** buf) {
    hasher->Update(std::string_view(reinterpret_cast<const char*>(out.data()), n));
    bytes += n;
    *buf = out.data();
    return n;
  }
};

la_ssize_t ReadCallback(struct archive* a, void* client, const void** buf) {
  auto* s = static_cast<Source*>(client);
  ssize_t n = s->Next(buf);
  if (n < 0) archive_set_error(a, EIO, "%s", s->error.c_str());
  return n;
}

struct Unpacker {
  int root = -1;
  bool root_user = ::geteuid() == 0;
  UnpackStats stats;

  Status Fail(const std::string& entry, const std::string& why) {
    return Status::Invalid("layer entry \"" + entry + "\": " + why);
  }

  // Clears the way for a new entry at `name` in `dir`: an existing entry is replaced, except
  // that a directory stays when a directory arrives (its contents merge).
  Status Clear(int dir, const std::string& name, bool new_is_dir) {
    struct stat st;
    if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return Status::Ok();
    if (new_is_dir && S_ISDIR(st.st_mode)) return Status::Ok();
    return RemoveAllAt(dir, name);
  }

  void SetMeta(int dir, const std::string& name, archive_entry* e, bool is_link) {
    if (root_user)
      (void)::fchownat(dir, name.c_str(), static_cast<uid_t>(archive_entry_uid(e)),
                       static_cast<gid_t>(archive_entry_gid(e)), AT_SYMLINK_NOFOLLOW);
    // chown clears set-id bits, so the mode comes after it. Links have no mode of their own.
    if (!is_link) (void)::fchmodat(dir, name.c_str(), archive_entry_perm(e) & 07777, 0);
    struct timespec ts[2];
    ts[0].tv_sec = ts[1].tv_sec = archive_entry_mtime(e);
    ts[0].tv_nsec = ts[1].tv_nsec = archive_entry_mtime_nsec(e);
    (void)::utimensat(dir, name.c_str(), ts, AT_SYMLINK_NOFOLLOW);
  }

  Status WriteFile(struct archive* a, int dir, const std::string& name, const std::string& entry,
                   archive_entry* e) {
    int fd =
        ::openat(dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return Fail(entry, Errno("cannot create"));
    Fd f(fd);
    const void* buf;
    size_t size;
    la_int64_t offset;
    int64_t end = 0;
    for (;;) {
      int rc = archive_read_data_block(a, &buf, &size, &offset);
      if (rc == ARCHIVE_EOF) break;
      if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
        return Fail(entry, std::string("cannot read its data: ") + archive_error_string(a));
      // Sparse files come as blocks at offsets; pwrite leaves the holes.
      const char* p = static_cast<const char*>(buf);
      while (size > 0) {
        ssize_t n = ::pwrite(fd, p, size, offset);
        if (n < 0) return Fail(entry, Errno("cannot write"));
        p += n;
        offset += n;
        size -= static_cast<size_t>(n);
      }
      end = std::max<int64_t>(end, offset);
    }
    if (::ftruncate(fd, std::max<int64_t>(end, archive_entry_size(e))) != 0)
      return Fail(entry, Errno("cannot size"));
    return Status::Ok();
  }

  Status Entry(struct archive* a, archive_entry* e) {
    const char* raw = archive_entry_pathname(e);
    std::string entry = raw ? raw : "";
    auto what = ClassifyLayerEntry(entry);
    if (!what.ok()) return Status::Invalid("a hostile layer: " + what.status().message());
    ++stats.entries;
    const std::string& path = what->path;
    if (what->kind == LayerPath::Kind::kRoot) {
      // The unpack directory is the root: nothing to make, and anything but a directory here
      // would mean replacing it.
      if (archive_entry_filetype(e) != AE_IFDIR)
        return Status::Invalid("a hostile layer: layer entry \"" + entry +
                               "\" names the root itself and is not a directory");
      return Status::Ok();
    }

    if (what->kind == LayerPath::Kind::kOpaque) {
      auto d = MkdirAllInRoot(root, path);
      if (!d.ok()) return Fail(entry, d.status().message());
      // O_PATH descriptors cannot carry xattrs; open the directory itself, still in root.
      Fd real(::openat(d->get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!real.ok() || ::fsetxattr(real.get(), kOpaqueXattr, "y", 1, 0) != 0)
        return Fail(entry, Errno("cannot mark the directory opaque"));
      return Status::Ok();
    }
    auto parent = MkdirAllInRoot(root, Dirname(path));
    if (!parent.ok()) return Fail(entry, parent.status().message());
    // The parent was resolved inside the root; a real directory is needed to create in.
    Fd dir(::openat(parent->get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir.ok()) return Fail(entry, Errno("cannot open its directory"));
    std::string name = Basename(path);

    if (what->kind == LayerPath::Kind::kWhiteout) {
      // A whiteout hides what lower layers have; something of that name in this same layer
      // stays (the OCI spec), so only an absent name gets the marker.
      struct stat st;
      if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return Status::Ok();
      if (::mknodat(dir.get(), name.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0)
        return Fail(entry, Errno("cannot create the whiteout"));
      return Status::Ok();
    }

    if (const char* link = archive_entry_hardlink(e)) {
      auto target = CleanLayerPath(link);
      if (!target.ok())
        return Status::Invalid("a hostile layer: hard link \"" + entry + "\" -> \"" + link +
                               "\": " + target.status().message());
      auto tdir = OpenDirInRoot(root, Dirname(*target));
      if (!tdir.ok()) return Fail(entry, "its link target: " + tdir.status().message());
      Fd treal(::openat(tdir->get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (auto s = Clear(dir.get(), name, false); !s.ok()) return Fail(entry, s.message());
      if (::linkat(treal.get(), Basename(*target).c_str(), dir.get(), name.c_str(), 0) != 0)
        return Fail(entry, Errno("cannot link to \"" + *target + "\""));
      return Status::Ok();
    }

    mode_t type = archive_entry_filetype(e);
    if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFSOCK) {
      ++stats.skipped;
      return Status::Ok();
    }
    if (auto s = Clear(dir.get(), name, type == AE_IFDIR); !s.ok()) return Fail(entry, s.message());
    switch (type) {
      case AE_IFDIR:
        if (::mkdirat(dir.get(), name.c_str(), 0755) != 0 && errno != EEXIST)
          return Fail(entry, Errno("cannot create the directory"));
        SetMeta(dir.get(), name, e, false);
        return Status::Ok();
      case AE_IFREG:
        if (auto s = WriteFile(a, dir.get(), name, entry, e); !s.ok()) return s;
        SetMeta(dir.get(), name, e, false);
        return Status::Ok();
      case AE_IFLNK: {
        // The target is kept as written: inside the container it resolves within the
        // container's root, and here every path is resolved within the layer's.
        const char* target = archive_entry_symlink(e);
        if (!target || !*target) return Fail(entry, "a symbolic link with no target");
        if (::symlinkat(target, dir.get(), name.c_str()) != 0)
          return Fail(entry, Errno("cannot create the symbolic link"));
        SetMeta(dir.get(), name, e, true);
        return Status::Ok();
      }
      case AE_IFIFO:
        if (::mkfifoat(dir.get(), name.c_str(), 0600) != 0)
          return Fail(entry, Errno("cannot create the FIFO"));
        SetMeta(dir.get(), name, e, false);
        return Status::Ok();
      default:
        return Fail(entry, "an entry of unknown type " + std::to_string(type));
    }
  }
};

// Copies one layer directory's level `from` onto `to` (both real directories of ours; nothing
// below is followed through a link: a directory in the layer replaces a link in the root, as
// overlayfs shows it).
struct Applier {
  std::map<std::pair<dev_t, ino_t>, std::string> linked;  // a layer inode -> its copy's path
  int root = -1;

  Status CopyFile(int from_dir, int to_dir, const std::string& name, const struct stat& st) {
    Fd in(::openat(from_dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!in.ok()) return Status::Error(Errno("cannot read " + name));
    Fd out(
        ::openat(to_dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out.ok()) return Status::Error(Errno("cannot create " + name));
    off_t left = st.st_size;
    while (left > 0) {
      ssize_t n =
          ::copy_file_range(in.get(), nullptr, out.get(), nullptr, static_cast<size_t>(left), 0);
      if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
        char buf[64 * 1024];
        n = ::read(in.get(), buf, sizeof buf);
        if (n > 0 && ::write(out.get(), buf, static_cast<size_t>(n)) != n) n = -1;
      }
      if (n < 0) return Status::Error(Errno("cannot copy " + name));
      if (n == 0) break;
      left -= n;
    }
    return Status::Ok();
  }

  void Meta(int dir, const std::string& name, const struct stat& st, bool is_link) {
    (void)::fchownat(dir, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
    if (!is_link) (void)::fchmodat(dir, name.c_str(), st.st_mode & 07777, 0);
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    (void)::utimensat(dir, name.c_str(), ts, AT_SYMLINK_NOFOLLOW);
  }

  Status Level(int from, int to, const std::string& rel) {
    char opq[2];
    ssize_t x = ::fgetxattr(from, kOpaqueXattr, opq, sizeof opq);
    if (x == 1 && opq[0] == 'y') {
      // Opaque: nothing from below shows through.
      auto below = ListDir(to, rel);
      if (!below.ok()) return below.status();
      for (const auto& n : *below)
        if (auto s = RemoveAllAt(to, n); !s.ok()) return s;
    }
    auto names = ListDir(from, "the layer at " + rel);
    if (!names.ok()) return names.status();
    for (const auto& name : *names) {
      std::string path = rel.empty() ? name : rel + "/" + name;
      struct stat st;
      if (::fstatat(from, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        return Status::Error(Errno("cannot stat the layer's " + path));
      struct stat have;
      bool exists = ::fstatat(to, name.c_str(), &have, AT_SYMLINK_NOFOLLOW) == 0;
      if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
        if (auto s = RemoveAllAt(to, name); !s.ok()) return s;
        continue;
      }
      if (S_ISDIR(st.st_mode)) {
        if (exists && !S_ISDIR(have.st_mode))
          if (auto s = RemoveAllAt(to, name); !s.ok()) return s;
        if (::mkdirat(to, name.c_str(), 0755) != 0 && errno != EEXIST)
          return Status::Error(Errno("cannot create " + path));
        Meta(to, name, st, false);
        Fd sub_from(::openat(from, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        Fd sub_to(::openat(to, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub_from.ok() || !sub_to.ok()) return Status::Error(Errno("cannot open " + path));
        if (auto s = Level(sub_from.get(), sub_to.get(), path); !s.ok()) return s;
        continue;
      }
      if (exists)
        if (auto s = RemoveAllAt(to, name); !s.ok()) return s;
      if (S_ISREG(st.st_mode)) {
        auto key = std::make_pair(st.st_dev, st.st_ino);
        if (st.st_nlink > 1) {
          if (auto l = linked.find(key); l != linked.end()) {
            auto tdir = OpenDirInRoot(root, Dirname(l->second));
            Fd treal(tdir.ok() ? ::openat(tdir->get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                               : -1);
            if (treal.ok() &&
                ::linkat(treal.get(), Basename(l->second).c_str(), to, name.c_str(), 0) == 0)
              continue;
          }
          linked[key] = path;
        }
        if (auto s = CopyFile(from, to, name, st); !s.ok()) return s;
        Meta(to, name, st, false);
      } else if (S_ISLNK(st.st_mode)) {
        std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
        ssize_t n = ::readlinkat(from, name.c_str(), target.data(), target.size());
        if (n < 0) return Status::Error(Errno("cannot read the link " + path));
        target.resize(static_cast<size_t>(n));
        if (::symlinkat(target.c_str(), to, name.c_str()) != 0)
          return Status::Error(Errno("cannot create the link " + path));
        Meta(to, name, st, true);
      } else if (S_ISFIFO(st.st_mode)) {
        if (::mkfifoat(to, name.c_str(), 0600) != 0)
          return Status::Error(Errno("cannot create the FIFO " + path));
        Meta(to, name, st, false);
      }
    }
    return Status::Ok();
  }
};

}  // namespace

Status ApplyLayerDir(const std::string& layer_dir, const std::string& root) {
  Fd from(::open(layer_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!from.ok()) return Status::Error(Errno("cannot open the layer " + layer_dir));
  Fd to(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!to.ok()) return Status::Error(Errno("cannot open " + root));
  Applier a;
  a.root = to.get();
  return a.Level(from.get(), to.get(), "");
}

Result<UnpackStats> UnpackLayer(const std::string& blob_path, bool gzip, const std::string& diff_id,
                                const std::string& dir) {
  Source src;
  src.gzip = gzip;
  src.fd = Fd(::open(blob_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!src.fd.ok()) return Status::Error(Errno("cannot open the layer " + blob_path));
  auto algorithm = diff_id.substr(0, diff_id.find(':'));
  auto hasher = Hasher::Create(algorithm);
  if (!hasher.ok())
    return Status::Invalid("the diff_id \"" + diff_id + "\": " + hasher.status().message());
  src.hasher = std::move(hasher).value();
  if (gzip) {
    if (inflateInit2(&src.z, 16 + MAX_WBITS) != Z_OK) return Status::Error("cannot set up gzip");
    src.z_ready = true;
  }
  Unpacker u;
  Fd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.ok()) return Status::Error(Errno("cannot open " + dir));
  u.root = root.get();

  std::unique_ptr<struct archive, int (*)(struct archive*)> a(archive_read_new(),
                                                              archive_read_free);
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  if (archive_read_open(a.get(), &src, nullptr, ReadCallback, nullptr) != ARCHIVE_OK)
    return Status::Invalid(std::string("the layer is not a tar: ") + archive_error_string(a.get()));
  for (;;) {
    archive_entry* e = nullptr;
    int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
      std::string why = src.error.empty() ? archive_error_string(a.get()) : src.error;
      return Status::Invalid("the layer " + blob_path + " is not a readable tar: " + why);
    }
    if (auto s = u.Entry(a.get(), e); !s.ok()) return s;
  }
  // The diff_id covers the whole stream, padding after the tar's end included.
  const void* rest;
  for (;;) {
    ssize_t n = src.Next(&rest);
    if (n < 0) return Status::Invalid("the layer " + blob_path + ": " + src.error);
    if (n == 0) break;
  }
  std::string got = src.hasher->Finish();
  if (got != diff_id)
    return Status::Invalid("the layer " + blob_path + " unpacks to " + got +
                           ", not to the diff_id " + diff_id + " its image config names");
  u.stats.bytes = src.bytes;
  return u.stats;
}

}  // namespace tug::agent::image
