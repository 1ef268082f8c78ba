// Knowing a process again after an agent restart: PID plus start time, saved and loaded.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "agent/runtime/process_identity.h"

using namespace tug::agent;

TEST_CASE("a process is known by its PID and start time", "[agent][process]") {
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
    _exit(127);
  }
  auto id = IdentifyProcess(child);
  REQUIRE(id.has_value());
  CHECK(id->pid == child);
  CHECK(StillRunning(*id));

  // A record with the same PID but another start time is someone else (a reused PID).
  ProcessIdentity impostor = *id;
  impostor.start_ticks += 1;
  CHECK_FALSE(StillRunning(impostor));

  // Saved and loaded intact.
  char tmpl[] = "/tmp/tug-proc-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  std::string path = std::string(tmpl) + "/main.json";
  REQUIRE(SaveIdentity(path, *id).ok());
  auto loaded = LoadIdentity(path);
  REQUIRE(loaded.ok());
  CHECK(loaded.value() == *id);

  // Killed: a zombie is not running, and after reaping the PID is gone.
  ::kill(child, SIGKILL);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (StillRunning(*id) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the kill lands asynchronously
  CHECK_FALSE(StillRunning(*id));                               // a zombie now: not running
  int st = 0;
  ::waitpid(child, &st, 0);
  CHECK_FALSE(StillRunning(*id));
  CHECK_FALSE(IdentifyProcess(child).has_value());

  // A damaged record is refused with the file's name.
  std::ofstream(path) << "{\"pid\": \"x\"}";
  auto bad = LoadIdentity(path);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find(path) != std::string::npos);
  CHECK_FALSE(LoadIdentity(std::string(tmpl) + "/missing.json").ok());
  std::filesystem::remove_all(tmpl);
}
