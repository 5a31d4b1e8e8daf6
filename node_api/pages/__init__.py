"""Staff web pages of the hall node (server-rendered, zh-CN first)."""
