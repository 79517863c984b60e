using System.Diagnostics;
using System.Text.Json;
using RsMoe.Data.Datasets;

namespace RsMoe.Data.Synthetic;

/// <summary>One generated scene: its truth, image, caption sentences and questions.</summary>
public sealed record GeneratedScene(Scene Scene, string Split, byte[] Png, IReadOnlyList<AspectSentence> Caption, IReadOnlyList<QaPair> Questions, string Instruction)
{
    public string Text => string.Join(' ', Caption.Select(s => s.Text));
}

/// <summary>
/// The synthetic scene benchmark, like CLEVR for remote sensing: top-down scenes with exact ground truth.
/// Deterministic for a seed (each scene draws from its own generator seeded by (seed, index), so parallel
/// generation gives the same files); writes <c>images/*.png</c>, <c>captions.json</c> (RSICap format with
/// aspects), <c>vqa.json</c> (RSIEval format) and <c>scenes.json</c> (the truth), split train/val/test 8:1:1.
/// </summary>
public static class SyntheticBenchmark
{
    static readonly string[] Instructions =
    [
        "Describe this image in detail.", "Take a look at this image and describe what you notice.",
        "Could you describe the contents of this image for me?", "Please provide a detailed description of the picture.",
    ];

    public static int SceneSeed(int seed, int index) => HashCode.Combine(seed, index, 0x5EED);

    public static GeneratedScene Generate(int seed, int index, int size = 256)
    {
        if (size is < 224 or > 512) throw new ArgumentOutOfRangeException(nameof(size), "scenes are 224 to 512 pixels");
        var random = new Random(SceneSeed(seed, index));
        string theme = Vocabulary.Themes[random.Next(Vocabulary.Themes.Length)];
        string id = $"syn{index:D6}";
        var scene = ScenePlanner.Plan(id, theme, size, random);
        var canvas = SceneRenderer.Render(scene, random);
        var caption = CaptionWriter.Write(scene, random);
        var questions = QuestionWriter.Write(scene, random);
        int bucket = (int)((uint)SceneSeed(seed ^ 0x51, index) % 10);
        string split = bucket == 0 ? "test" : bucket == 1 ? "val" : "train";
        using var image = NetVips.Image.NewFromMemory(canvas.ToRgbBytes(), size, size, 3, NetVips.Enums.BandFormat.Uchar);
        return new GeneratedScene(scene, split, image.PngsaveBuffer(compression: 1), caption, questions, Instructions[random.Next(Instructions.Length)]);
    }

    /// <summary>Generates <paramref name="count"/> scenes into <paramref name="outDirectory"/>; returns the time taken.</summary>
    public static TimeSpan Write(string outDirectory, int count, int seed, int size = 256, IProgress<int>? progress = null)
    {
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), "count must be positive");
        var clock = Stopwatch.StartNew();
        string images = Path.Combine(outDirectory, "images");
        Directory.CreateDirectory(images);
        var scenes = new GeneratedScene[count];
        int done = 0;
        Parallel.For(0, count, i =>
        {
            var generated = Generate(seed, i, size);
            File.WriteAllBytes(Path.Combine(images, generated.Scene.Id + ".png"), generated.Png);
            scenes[i] = generated with { Png = [] };
            int n = Interlocked.Increment(ref done);
            if (n % 100 == 0) progress?.Report(n);
        });

        var options = new JsonSerializerOptions { WriteIndented = false };
        var captions = scenes.Select(s => new
        {
            image_id = s.Scene.Id, filename = $"images/{s.Scene.Id}.png", split = s.Split, theme = s.Scene.Theme,
            text_input = s.Instruction, text_output = s.Text,
            aspects = s.Caption.Select(c => new { text = c.Text, aspect = c.Aspect }),
        });
        File.WriteAllText(Path.Combine(outDirectory, "captions.json"), JsonSerializer.Serialize(new { annotations = captions }, options));
        var vqa = scenes.Select(s => new
        {
            image_id = s.Scene.Id, filename = $"images/{s.Scene.Id}.png", split = s.Split, caption = s.Text,
            qa_pairs = s.Questions.Select(q => new { question_id = q.Id, question = q.Question, answer = q.Answer, type = q.Type }),
        });
        File.WriteAllText(Path.Combine(outDirectory, "vqa.json"), JsonSerializer.Serialize(new { annotations = vqa }, options));
        var truth = scenes.Select(s => new
        {
            image_id = s.Scene.Id, theme = s.Scene.Theme, size = s.Scene.Size,
            groups = s.Scene.Groups.Select(g => new { @class = g.Class, colour = g.Colour, size = g.Size, count = g.Count, region = Regions.Names[g.Region], pixel_area = g.PixelArea }),
            lines = s.Scene.Lines.Select(l => new { @class = l.Class, direction = l.Direction }),
            relations = s.Scene.Relations.Select(r => new { kind = r.Kind, subject = r.Subject, @object = r.Object, second = r.Second }),
            class_area = s.Scene.ClassArea,
        });
        File.WriteAllText(Path.Combine(outDirectory, "scenes.json"), JsonSerializer.Serialize(truth, options));
        File.WriteAllText(Path.Combine(outDirectory, "README.md"),
            $"# Synthetic remote-sensing scenes\n\nGenerated by `rsmoe synth --count {count} --seed {seed} --size {size}`: {count} scenes, " +
            $"{scenes.Count(s => s.Split == "train")} train / {scenes.Count(s => s.Split == "val")} val / {scenes.Count(s => s.Split == "test")} test.\n");
        return clock.Elapsed;
    }
}
