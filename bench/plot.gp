# make bench's plots: gnuplot -e "dir='build/bench'; term='png'; lat=N" bench/plot.gp
# ratios.PNG|SVG: each benchmark's first metric, every config against its baseline (median,
# bars from the lowest to the highest interleaved pair); latency: fault-latency percentiles.
if (term eq 'png') { set terminal pngcairo size 1000,560 font ',10' } else { set terminal svg size 1000,560 dynamic font 'sans,10' }
set datafile separator whitespace
set style fill solid 0.6 border -1
set boxwidth 0.6 absolute
set offsets 0.7, 0.7, 0, 0
set grid ytics
set xtics rotate by -30 noenhanced
set key off

set output dir.'/ratios.'.term
set title 'make bench: each config against its baseline, first metric (times: above 1 is slower; rates: below 1 is slower; log scale)' noenhanced
set ylabel 'ratio (median, bar = min..max of the pairs)'
set logscale y
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb 'black'
plot dir.'/ratios.dat' using 0:2:xtic(1) with boxes lc rgb '#4a7ebb', \
     '' using 0:2:3:4 with yerrorbars lc rgb 'black' pt 0, \
     '' using 0:4:(sprintf('%.2fx', $2)) with labels offset 0,0.8
unset arrow 1
unset logscale y

# lat: number of data lines in latency.dat (given by bench/run.sh)
if (exists('lat') && lat > 0) {
    set output dir.'/latency.'.term
    set title 'DSM fault latency in QEMU (percentiles, median of the runs) and the dsm-bench floor' noenhanced
    set ylabel 'microseconds'
    set yrange [0:*]
    plot dir.'/latency.dat' using 0:3:xtic(sprintf('%s %s', stringcolumn(1), stringcolumn(2))) with boxes lc rgb '#c0504d', \
         '' using 0:3:(sprintf('%.0f', $3)) with labels offset 0,0.8
}
