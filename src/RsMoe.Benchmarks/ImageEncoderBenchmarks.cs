using System.CommandLine;
using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Text.Json;
using RsMoe.Data.Images;
using RsMoe.Model.Vision;
using static TorchSharp.torch;

namespace RsMoe.Benchmarks;

/// <summary>
/// <c>rsmoe bench image-encoder</c>: ResNet-18 on real photos through the image encoder with each engine, our ONNX-graph
/// executor (libtorch operators) and ONNX Runtime, on the same graph files and pixels, each in its own child process,
/// with the compute-bound limit beside them.
/// </summary>
internal static class ImageEncoderBenchmarks
{
    /// <param name="Engine">libtorch (our ONNX-graph executor, libtorch operators) or onnxruntime (the service's default).</param>
    /// <param name="MsPerImage">Median over the images of one run, then the median run; min and max are of the runs' medians.</param>
    /// <param name="PeakGflops">The cores' fp32 fused-multiply-add peak at these threads, measured: the compute ceiling.</param>
    /// <param name="Encoder">The image-encoder name timed: the shipped model's.</param>
    /// <param name="MultiplyAdds">Of one image up to that encoder's map, counted on the graph's convolutions.</param>
    /// <param name="Orientations">How many orientations of a photo the shipped model averages: the service's passes per new photo (each row times one).</param>
    public sealed record Row(string Engine, int Threads, int Images, double MsPerImage, double MsMin, double MsMax, double PeakRssMiB,
        double PeakGflops, int Repetitions = 1, string? Native = null, string Encoder = ImageBackbone.ResNet18, double MultiplyAdds = 0, int Orientations = 1)
    {
        /// <summary>The time the multiply-adds take at the measured peak.</summary>
        public double FloorMs => 2 * MultiplyAdds / (PeakGflops * 1e9) * 1000;
    }

    public static IEnumerable<Command> Commands() => [Bench(), RunOne()];

    public static List<Row> Run(IReadOnlyList<int> threads, int images, int repetitions)
    {
        var rows = new List<Row>();
        foreach (int t in threads)
            foreach (var engine in new[] { "libtorch", "onnxruntime" })
            {
                var runs = Enumerable.Range(0, repetitions).Select(_ => BenchmarkProcess.Run<Row>(null,
                    "bench", "image-encoder-one", "--engine", engine, "--threads", t.ToString(), "--images", images.ToString())).OrderBy(r => r.MsPerImage).ToList();
                rows.Add(Print(runs[(runs.Count - 1) / 2] with { MsMin = runs[0].MsPerImage, MsMax = runs[^1].MsPerImage, Repetitions = runs.Count, PeakRssMiB = runs.Max(r => r.PeakRssMiB) }));
            }
        return rows;
    }

    static Row Print(Row row)
    {
        Console.WriteLine($"{row.Engine,-12} {row.Threads,3} threads  {row.Encoder}  {row.MsPerImage,7:F1} ms/image ({row.MsMin:F1}–{row.MsMax:F1})  compute floor {row.FloorMs:F1} ms for {row.MultiplyAdds / 1e9:F2} G multiply-adds ({row.FloorMs / row.MsPerImage * 100:F0}% of it)  peak {row.PeakRssMiB:F0} MiB");
        return row;
    }

    static Command Bench()
    {
        var threads = new Option<string>("--threads") { DefaultValueFactory = _ => "1,2" };
        var images = new Option<int>("--images") { DefaultValueFactory = _ => 24, Description = "RSSCN7 photos timed per run" };
        var repetitions = new Option<int>("--repetitions") { DefaultValueFactory = _ => 3 };
        var command = new Command("image-encoder", "ResNet-18 per image: our executor against ONNX Runtime on the same graph, and the compute floor") { threads, images, repetitions };
        command.SetAction(parse =>
        {
            Run(BenchCommands.Split(parse.GetValue(threads)!).Select(int.Parse).ToList(), parse.GetValue(images), parse.GetValue(repetitions));
            return 0;
        });
        return command;
    }

    static Command RunOne()
    {
        var engine = new Option<string>("--engine") { Required = true };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => 1 };
        var images = new Option<int>("--images") { DefaultValueFactory = _ => 24 };
        var command = new Command("image-encoder-one", "One image-encoder run in this process (prints one JSON row)") { engine, threads, images };
        command.Hidden = true;
        command.SetAction(parse =>
        {
            int t = parse.GetValue(threads);
            set_num_threads(t);
            var pixels = ConstellationBenchmark.ImageFiles(null).Take(parse.GetValue(images) + 2)
                .Select(f => ImageDecoder.Preprocess(f, ImagePreprocessing.ResNet18Cntk).Data).ToList();
            string name = parse.GetValue(engine)!;
            var runner = name switch
            {
                "libtorch" => ResNetImageEncoder.Engine.Libtorch,
                "onnxruntime" => ResNetImageEncoder.Engine.OnnxRuntime,
                _ => throw new ArgumentException($"unknown engine '{name}' (libtorch, onnxruntime)"),
            };
            // What the service runs: the shipped model's map.
            var shipped = RsMoe.Model.Moe.ModelFolder.LoadConfig(RsMoe.Model.Moe.ModelLocator.DefaultModelDirectory());
            string backbone = shipped.ImageEncoder;
            var encoder = new ResNetImageEncoder(engine: runner, tap: ResNetTap.ByName(backbone) ?? throw new InvalidDataException($"the default model's image encoder '{backbone}' is not a ResNet-18 map"));
            long multiplyAdds = encoder.MultiplyAdds();
            Func<float[], float> encode = p => { using var scope = NewDisposeScope(); return encoder.FeatureMap(tensor(p, [1, 3, 224, 224])).sum().item<float>(); };
            IDisposable owner = encoder;
            string? native = runner == ResNetImageEncoder.Engine.OnnxRuntime ? $"ONNX Runtime {Microsoft.ML.OnnxRuntime.OrtEnv.Instance().GetVersionString()}, CPU provider" : null;
            using (owner)
            {
                encode(pixels[0]);
                encode(pixels[1]);   // warm-up: first-call allocations and kernel selection
                var times = new List<double>();
                foreach (var p in pixels.Skip(2))
                {
                    var clock = Stopwatch.StartNew();
                    encode(p);
                    times.Add(clock.Elapsed.TotalMilliseconds);
                }
                times.Sort();
                Console.WriteLine(JsonSerializer.Serialize(new Row(name, t, times.Count, Math.Round(times[times.Count / 2], 2), times[0], times[^1],
                    Math.Round(BenchmarkProcess.PeakRssMiB(), 0), Math.Round(FmaPeakGflops(t), 1), Native: native, Encoder: backbone, MultiplyAdds: multiplyAdds,
                    Orientations: shipped.ImageOrientations)));
            }
            return 0;
        });
        return command;
    }

    /// <summary>
    /// The fp32 multiply-add peak of <paramref name="threads"/> cores: each thread runs independent chains of fused
    /// multiply-adds on the widest vectors the runtime accelerates, long enough to hide their latency (best of 5).
    /// </summary>
    internal static double FmaPeakGflops(int threads)
    {
        const int Iterations = 20_000_000;
        double best = 0;
        for (int pass = 0; pass < 5; pass++)
        {
            using var start = new Barrier(threads);
            var clock = new Stopwatch();
            var workers = Enumerable.Range(0, threads).Select(i => new Thread(() =>
            {
                start.SignalAndWait();
                if (i == 0) clock.Start();
                FmaChains(Iterations);
            })).ToList();
            workers.ForEach(w => w.Start());
            workers.ForEach(w => w.Join());
            clock.Stop();
            double flops = 2.0 * 8 * Vector512<float>.Count * (double)Iterations * threads;
            if (!Vector512.IsHardwareAccelerated) flops = flops / Vector512<float>.Count * Vector256<float>.Count;
            best = Math.Max(best, flops / clock.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    static float FmaChains(int iterations)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            var (a0, a1, a2, a3, a4, a5, a6, a7) = (Vector512.Create(1f), Vector512.Create(2f), Vector512.Create(3f), Vector512.Create(4f), Vector512.Create(5f), Vector512.Create(6f), Vector512.Create(7f), Vector512.Create(8f));
            var m = Vector512.Create(0.999999f);
            var c = Vector512.Create(1e-7f);
            for (int i = 0; i < iterations; i++)
            {
                a0 = Vector512.FusedMultiplyAdd(a0, m, c); a1 = Vector512.FusedMultiplyAdd(a1, m, c);
                a2 = Vector512.FusedMultiplyAdd(a2, m, c); a3 = Vector512.FusedMultiplyAdd(a3, m, c);
                a4 = Vector512.FusedMultiplyAdd(a4, m, c); a5 = Vector512.FusedMultiplyAdd(a5, m, c);
                a6 = Vector512.FusedMultiplyAdd(a6, m, c); a7 = Vector512.FusedMultiplyAdd(a7, m, c);
            }
            return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7);
        }
        var (b0, b1, b2, b3, b4, b5, b6, b7) = (Vector256.Create(1f), Vector256.Create(2f), Vector256.Create(3f), Vector256.Create(4f), Vector256.Create(5f), Vector256.Create(6f), Vector256.Create(7f), Vector256.Create(8f));
        var n = Vector256.Create(0.999999f);
        var d = Vector256.Create(1e-7f);
        for (int i = 0; i < iterations; i++)
        {
            b0 = Vector256.FusedMultiplyAdd(b0, n, d); b1 = Vector256.FusedMultiplyAdd(b1, n, d);
            b2 = Vector256.FusedMultiplyAdd(b2, n, d); b3 = Vector256.FusedMultiplyAdd(b3, n, d);
            b4 = Vector256.FusedMultiplyAdd(b4, n, d); b5 = Vector256.FusedMultiplyAdd(b5, n, d);
            b6 = Vector256.FusedMultiplyAdd(b6, n, d); b7 = Vector256.FusedMultiplyAdd(b7, n, d);
        }
        return Vector256.Sum(b0 + b1 + b2 + b3 + b4 + b5 + b6 + b7);
    }

}
