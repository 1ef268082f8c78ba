// Runs a program the way a user's shell would, for tests of command-line tools: its
// arguments, environment and stdin given, its stdout, stderr and exit code collected, with a
// deadline after which it is killed (by PID).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tug::testing {

struct CommandResult {
  int exit_code = -1;  // -1: killed at the deadline or by a signal
  std::string out, err;
  std::chrono::milliseconds took{0};
};

struct CommandOptions {
  // Set (or, with nullopt, removed) on top of this process's environment.
  std::map<std::string, std::optional<std::string>> env;
  std::string stdin_text;
  std::chrono::milliseconds timeout{60000};
};

CommandResult RunCommand(const std::vector<std::string>& args, const CommandOptions& o = {});

// Reading what a command printed: its lines, and a line's whitespace-separated cells.
std::vector<std::string> Lines(const std::string& text);
std::vector<std::string> Cells(const std::string& line);
// Writes `text` to `path` (an input file for a command).
void WriteFile(const std::string& path, const std::string& text);

// A command running in the background, its output going to files; the destructor kills it
// (by PID) if it still runs.
class BackgroundCommand {
 public:
  BackgroundCommand(const std::vector<std::string>& args, const CommandOptions& o,
                    const std::string& dir);
  ~BackgroundCommand();
  BackgroundCommand(const BackgroundCommand&) = delete;
  BackgroundCommand& operator=(const BackgroundCommand&) = delete;

  std::string Out() const;  // stdout so far
  std::string Err() const;
  // Waits for it to exit; its exit code, or nullopt at the timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = 0;
  std::string out_path_, err_path_;
};

}  // namespace tug::testing
