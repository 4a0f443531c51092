#!/usr/bin/env python3
"""A minimal client of the lab API server for lab tools (no Kubernetes client library needed):
the kubeconfig's server, CA and token; GET as JSON; watch streams line by line."""
import base64
import http.client
import json
import re
import ssl
import urllib.parse


def read_kubeconfig(path):
    text = open(path).read()
    server = re.search(r"server: (\S+)", text).group(1)
    ca = base64.b64decode(re.search(r"certificate-authority-data: (\S+)", text).group(1)).decode()
    token = re.search(r"token: (\S+)", text).group(1)
    return server, ca, token


class Api:
    def __init__(self, kubeconfig):
        server, ca, self.token = read_kubeconfig(kubeconfig)
        url = urllib.parse.urlparse(server)
        self.host, self.port = url.hostname, url.port or 443
        self.context = ssl.create_default_context(cadata=ca)

    def connect(self, timeout):
        return http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=timeout)

    def get(self, path):
        conn = self.connect(10)
        try:
            conn.request("GET", path, headers={"Authorization": f"Bearer {self.token}"})
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
            return json.loads(body)
        finally:
            conn.close()

    def watch(self, path, resource_version, on_event):
        """Blocks while the watch lasts, calling on_event() for every event."""
        conn = self.connect(None)
        try:
            query = f"?watch=1&resourceVersion={resource_version}&timeoutSeconds=600"
            conn.request("GET", path + query, headers={"Authorization": f"Bearer {self.token}"})
            response = conn.getresponse()
            if response.status != 200:
                raise RuntimeError(f"watch {path}: {response.status}")
            while True:
                line = response.readline()
                if not line:
                    return
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    return
                on_event()
        finally:
            conn.close()
