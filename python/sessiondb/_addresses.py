"""A client's (server_address, port) and sessiondb's per-DC ``ip:port`` / ``[ip]:port`` texts."""


def endpoint(address, port):
    """(server_address, port) as sessiondb's (ipv4, ipv6) texts; no address gives neither."""
    if not address:
        return None, None
    if ":" in address:
        return None, "[{}]:{}".format(address, port)
    return "{}:{}".format(address, port), None


def address(ipv4, ipv6):
    """sessiondb's ipv4 / ipv6 texts as (server_address, port), the IPv4 one first."""
    text = ipv4 or ipv6
    if not text:
        return None, None
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)
