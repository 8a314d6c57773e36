FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends libyaz5 xmlsec1 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir '.[postgres]'
RUN useradd --system --home /var/lib/unicat unicat && mkdir -p /var/lib/unicat && chown unicat /var/lib/unicat
USER unicat
EXPOSE 8000
CMD ["unicat", "serve", "--host", "0.0.0.0", "--port", "8000"]
