"""The "3G" watch gateway: the protocol (`protocol`), the TCP server and its
connections (`server`), the QoS 1 publisher to the broker (`publisher`), and the process
that runs them (`process`, started by `anxin gateway watch`)."""
