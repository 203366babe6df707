"""The rule every browser test enforces: which URLs count as leaving the machine."""
import pytest

from browser_support import leaves_machine


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8620/_stcore/health", "ws://127.0.0.1:8620/_stcore/stream", "http://localhost:8501/",
    "http://[::1]:8501/", "http://127.0.0.1:9/b.png", "http://127.8.9.10/", "data:image/svg+xml,<svg/>",
    "blob:http://127.0.0.1:8620/0f4c", "about:blank",
])
def test_loopback_and_page_made_urls_stay_on_the_machine(url):
    assert not leaves_machine(url)


@pytest.mark.parametrize("url", [
    "https://fonts.gstatic.com/s/i/short-term/release/materialsymbolsrounded/home/default/24px.svg",
    "http://203.0.113.7/x.png", "http://10.0.0.1/", "http://[2001:db8::1]/", "https://localhost.example.com/",
    "//cdn.example.com/x.js", "javascript:alert(1)",
])
def test_any_other_host_leaves_the_machine(url):
    assert leaves_machine(url)
