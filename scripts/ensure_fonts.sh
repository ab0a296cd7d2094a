#!/bin/sh
# Quote PDFs (docs/documents.md) are drawn by WeasyPrint with the system's fonts: Chinese text
# needs a CJK font. Called by `make install`: when none is installed and this runs as root with
# apt-get, install fonts-wqy-zenhei (WenQuanYi Zen Hei); otherwise say what to install. Never
# fails, so `make run` works without it (Chinese text in PDFs is then drawn as boxes).
set -u

warn() {
  echo "WARNING: $1" >&2
  echo "         Chinese text in generated PDFs needs a CJK font: as root, run" >&2
  echo "         apt-get install fonts-wqy-zenhei (or install Noto Sans CJK SC)." >&2
}

has_cjk_font() {
  command -v fc-list >/dev/null 2>&1 &&
    fc-list 2>/dev/null | grep -qi -e "WenQuanYi Zen Hei" -e "Noto Sans CJK" -e "Source Han Sans"
}

if ! (ldconfig -p 2>/dev/null | grep -q "libpango-1.0") && [ "$(uname -s)" = Linux ]; then
  echo "WARNING: Pango (libpango-1.0) was not found: WeasyPrint cannot make PDFs without it" >&2
  echo "         (apt-get install libpango-1.0-0 libpangoft2-1.0-0)." >&2
fi

has_cjk_font && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing the CJK font fonts-wqy-zenhei for Chinese text in PDFs"
  if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-zenhei >/dev/null 2>&1 ||
     { apt-get update -qq >/dev/null 2>&1 &&
       DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-zenhei >/dev/null 2>&1; }
  then
    has_cjk_font && exit 0
  fi
  warn "installing fonts-wqy-zenhei failed."
else
  warn "no CJK font is installed (and this is not root with apt-get, so none was installed)."
fi
exit 0
