// kubectl-style tables and ages (for tugctl): the exact text kubectl would print.
#include <catch2/catch.hpp>

#include "api/table.h"

using tug::api::FormatTable;
using tug::api::HumanDuration;

TEST_CASE("tables are aligned as kubectl aligns them", "[api][table]") {
  // What `kubectl get pods` prints for these pods.
  CHECK(FormatTable({"NAME", "READY", "STATUS", "RESTARTS", "AGE"},
                    {{"web-7d4b9c8f6d-2xk9p", "1/1", "Running", "0", "5m30s"},
                     {"db-0", "0/1", "CrashLoopBackOff", "4", "2d5h"}}) ==
        "NAME                   READY   STATUS             RESTARTS   AGE\n"
        "web-7d4b9c8f6d-2xk9p   1/1     Running            0          5m30s\n"
        "db-0                   0/1     CrashLoopBackOff   4          2d5h\n");
  // Short columns are at least 6 wide (kubectl's minimum cell width, padding included).
  CHECK(FormatTable({"A", "B", "C"}, {{"x", "y", "z"}}) == "A     B     C\nx     y     z\n");
  // Missing cells are empty; the last column is not padded, nor is a line's end.
  CHECK(FormatTable({"NAME", "STATUS"}, {{"n1"}, {"n2", "Ready"}}) ==
        "NAME   STATUS\nn1\nn2     Ready\n");
  CHECK(FormatTable({"NAME"}, {}) == "NAME\n");
}

TEST_CASE("ages read as kubectl's", "[api][table]") {
  CHECK(HumanDuration(-5) == "<invalid>");
  CHECK(HumanDuration(-1) == "0s");
  CHECK(HumanDuration(0) == "0s");
  CHECK(HumanDuration(45) == "45s");
  CHECK(HumanDuration(119) == "119s");
  CHECK(HumanDuration(120) == "2m");
  CHECK(HumanDuration(330) == "5m30s");
  CHECK(HumanDuration(599) == "9m59s");
  CHECK(HumanDuration(600) == "10m");
  CHECK(HumanDuration(179 * 60 + 59) == "179m");
  CHECK(HumanDuration(3 * 3600) == "3h");
  CHECK(HumanDuration(3 * 3600 + 25 * 60) == "3h25m");
  CHECK(HumanDuration(8 * 3600) == "8h");
  CHECK(HumanDuration(47 * 3600) == "47h");
  CHECK(HumanDuration(48 * 3600) == "2d");
  CHECK(HumanDuration(53 * 3600) == "2d5h");
  CHECK(HumanDuration(8 * 86400) == "8d");
  CHECK(HumanDuration(729 * 86400) == "729d");
  CHECK(HumanDuration(730 * 86400) == "2y");
  CHECK(HumanDuration(760 * 86400) == "2y30d");
  CHECK(HumanDuration(3000 * 86400) == "8y");
}
