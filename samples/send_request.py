"""`send_request`: call any REST operation yourself, through the client's pipeline (auth, retries, logging).

Useful for operations or options the SDK does not wrap yet. Relative URLs are joined onto the endpoint; add the
`api-version` query parameter yourself. The response is returned as is: no status check, no exception on 404.

Run:  .venv/bin/python samples/send_request.py
"""

from _common import JSON, WebSocketClient, check, run, service_target
from azure.core.rest import HttpRequest
from azure.messaging.webpubsubservice import WebPubSubServiceClient

API_VERSION = {"api-version": "2024-12-01"}


def main() -> None:
    with (
        service_target("send_request") as target,
        WebPubSubServiceClient.from_connection_string(target.connection_string, hub=target.hub) as service,
    ):
        print(f"Using {target.where}, hub {target.hub!r}")
        hub = target.hub
        url = service.get_client_access_token(user_id="quinn", groups=["ops"])["url"]
        with WebSocketClient(url, protocol=JSON, name="quinn") as quinn:
            request = HttpRequest("POST", f"/api/hubs/{hub}/:send", params=API_VERSION, json={"raw": "request"})
            response = service.send_request(request)
            print(f"POST /api/hubs/{hub}/:send            -> {response.status_code}")
            check(response.status_code == 202, "the send should be accepted")
            print("  client received:", quinn.expect_message({"raw": "request"}).describe())

            response = service.send_request(HttpRequest("HEAD", f"/api/hubs/{hub}/users/quinn", params=API_VERSION))
            print(f"HEAD /api/hubs/{hub}/users/quinn      -> {response.status_code}")
            check(response.status_code == 200, "quinn is connected")

            response = service.send_request(HttpRequest("HEAD", f"/api/hubs/{hub}/users/nobody", params=API_VERSION))
            print(f"HEAD /api/hubs/{hub}/users/nobody     -> {response.status_code} (no exception: no status check)")
            check(response.status_code == 404, "nobody is not connected")

            request = HttpRequest("GET", f"/api/hubs/{hub}/groups/ops/connections", params=API_VERSION)
            response = service.send_request(request)
            members = response.json()["value"]
            print(f"GET  /api/hubs/{hub}/groups/ops/connections -> {response.status_code} {members}")
            check(members == [{"connectionId": quinn.connection_id, "userId": "quinn"}], "quinn is in 'ops'")

            response = service.send_request(HttpRequest("HEAD", "/api/health", params=API_VERSION))
            print(f"HEAD /api/health                      -> {response.status_code}")
            check(response.status_code == 200, "the service is healthy")
        print("send_request done.")


if __name__ == "__main__":
    run(main)
