# Starts a throwaway nginx on loopback that answers every request with a small OpenRTB bid response.
# Source this file, then: start_nginx DIR PORT [WORKERS] ; it sets NGINX_PID. stop_nginx DIR stops it.
start_nginx() {
    local dir=$1 port=$2 workers=${3:-1}
    mkdir -p "$dir/tmp"
    cat >"$dir/nginx.conf" <<CONF
worker_processes $workers;
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/tmp;
    proxy_temp_path $dir/tmp;
    fastcgi_temp_path $dir/tmp;
    uwsgi_temp_path $dir/tmp;
    scgi_temp_path $dir/tmp;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$port;
        default_type application/json;
        location / {
            return 200 '{"id":"bench","seatbid":[{"seat":"s1","bid":[{"id":"b1","impid":"1","price":1.25,"crid":"c1","adomain":["example.com"]}]}],"cur":"USD"}';
        }
    }
}
CONF
    nginx -c "$dir/nginx.conf" -e "$dir/error.log" &
    NGINX_PID=$!
    for _ in $(seq 50); do
        curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
        sleep 0.1
    done
    echo "nginx did not start on 127.0.0.1:$port: $(cat "$dir/error.log")" >&2
    return 1
}

stop_nginx() {
    [ -n "${NGINX_PID:-}" ] && kill -QUIT "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null || true
}
