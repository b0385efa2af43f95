# The chart of BENCHMARKS.md: one panel per workload, a bar per server at
# the median of the repeats, with a line from the minimum to the maximum.
# bench/compare runs it as
#   gnuplot -e "dir='RUN'; outfile='X.png'; panels=N; array title[N] = [...];
#               array logy[N] = [0 or 1, ...]" bench/plot.gp
# where RUN/panel-I.dat holds one line per server: "name" median min max
# colour (0 mynah, 1 prosody, 2 prosody-gc, 3 ejabberd).
set terminal pngcairo size 1600,900 font "DejaVu Sans,10" noenhanced
set output outfile
cols = panels > 4 ? ceil(panels / 2.0) : panels
rows = panels > 4 ? 2 : 1
set multiplot layout rows, cols title "mynah, Prosody and ejabberd (median, min-max)" font ",13"
set style fill solid 0.85 border -1
set boxwidth 0.7
set offsets 0.5, 0.5, 0, 0
set yrange [0:*]
set xtics nomirror rotate by -30 font ",9"
set ytics nomirror font ",9"
set grid ytics lc rgb "#dddddd"
set border 3
unset key
# mynah in orange, the peers in shades of blue and green.
color(i) = i == 0 ? 0xe66101 : i == 1 ? 0x5e9bd1 : i == 2 ? 0x2166ac : 0x4dac26
do for [i=1:panels] {
    set title title[i] font ",10"
    if (logy[i]) { set logscale y; set yrange [*:*] } else { unset logscale y; set yrange [0:*] }
    file = sprintf("%s/panel-%d.dat", dir, i)
    plot file using 0:2:(color($5)):xtic(1) with boxes lc rgb variable, \
         file using 0:2:3:4 with yerrorbars lc rgb "black" pt 0 lw 1.5
}
unset multiplot
