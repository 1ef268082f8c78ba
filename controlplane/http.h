// The HTTP types of the network layer, under the names the API server's handlers use.
#pragma once

#include "net/http_server.h"

namespace tug::cp {

using net::Handler;
using net::HttpRequest;
using net::HttpResponse;
using net::Respond;
using net::ResponseStream;
using net::StatusResponse;
using net::UrlDecode;

}  // namespace tug::cp
