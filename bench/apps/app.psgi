# The PSGI twin of bench/apps/hello.py, for Perl Starlet and Starman (plackup).
#   GET  /      -> "Hello, World!"            GET /64k -> 65,536 bytes
#   POST /echo  -> the request body's length, in decimal
#   GET  /file  -> the file named by $BENCH_FILE, as a filehandle body
# Every answer: 200, Content-Type: text/plain, an explicit Content-Length.
use strict;
use warnings;

my $hello = "Hello, World!";
my $big   = "x" x 65536;
my $file  = $ENV{BENCH_FILE};
my @ct    = ('Content-Type' => 'text/plain');

my $app = sub {
    my $env  = shift;
    my $path = $env->{PATH_INFO} || '/';
    if ($path eq '/file') {
        open(my $fh, '<:raw', $file) or return [500, [@ct], ["no BENCH_FILE: $!"]];
        return [200, [@ct, 'Content-Length' => -s $fh], $fh];
    }
    my $body;
    if ($path eq '/64k') {
        $body = $big;
    }
    elsif ($path eq '/echo') {
        my $remaining = $env->{CONTENT_LENGTH} || 0;
        my $input     = $env->{'psgi.input'};
        my $n         = 0;
        while ($remaining > 0) {
            my $got = $input->read(my $buf, $remaining > 65536 ? 65536 : $remaining);
            last unless $got;
            $n         += $got;
            $remaining -= $got;
        }
        $body = "$n";
    }
    else {
        $body = $hello;
    }
    return [200, [@ct, 'Content-Length' => length $body], [$body]];
};

$app;
