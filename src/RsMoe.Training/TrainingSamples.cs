using System.Text.RegularExpressions;
using System.Text.Json;
using RsMoe.Data.Aspects;
using RsMoe.Captions;
using RsMoe.Data.Datasets;

namespace RsMoe.Training;

/// <summary>One supervised example: an image, what the LLM is told, what it must write, and which expert learns it.</summary>
/// <param name="Scene">The image's scene class as "dataset:class" (e.g. "ucm-captions:airplane"), where its data set names one:
/// the target of Stage I's scene loss (<see cref="SceneClassifier"/>).</param>
/// <param name="MosaicWith">Three (or fifteen) more images that make, with <paramref name="ImagePath"/>, the 2×2 (or 4×4)
/// mosaic the example shows (a zoomed-out view, <see cref="FeatureCache.GetMosaic"/>); null = the image itself.</param>
/// <param name="Turn">The orientation the single image is shown in (<see cref="FeatureCache.GetTurned"/>): 0 as it is,
/// 1–3 turned by that many quarter turns, 4–7 the same mirrored.</param>
public sealed record TrainingSample(string ImagePath, string Prompt, string Target, int Expert, bool IsQuestion, string? Scene = null, string[]? MosaicWith = null, int Turn = 0)
{
    /// <summary>Every image the example shows.</summary>
    public IReadOnlyList<string> Images => MosaicWith is null ? [ImagePath] : [ImagePath, .. MosaicWith];

    /// <summary>What the example's visual features are stored under: the image's path (and turn), or the mosaic's paths.</summary>
    public string ViewKey => MosaicWith is not null ? "mosaic:" + string.Join('|', Images) : Turn == 0 ? ImagePath : $"turn{Turn}:{ImagePath}";
}

/// <summary>Builds Stage I and Stage II examples from the synthetic benchmark, real captioned imagery and RSSCN7 photographs, as configured.</summary>
public static class TrainingSamples
{
    /// <summary>PAPER.md's mapping of question types to aspects: objects, relationships, theme.</summary>
    public static string AspectOfQuestion(string type) => type switch
    {
        "presence" or "quantity" or "color" => AspectSplitter.Objects,
        "ab_position" or "re_position" or "area_comp" or "road_ori" => AspectSplitter.Relationships,
        _ => AspectSplitter.Theme,
    };

    /// <summary>
    /// Which of <paramref name="experts"/> experts learns a sentence or question of an aspect. Three experts: theme,
    /// objects, relationships. Fewer share (two: theme+objects and relationships; one: everything). Four: positions in
    /// the image and relations between things go to different experts.
    /// </summary>
    public static int ExpertOf(string aspect, int experts, bool aboutTheImageFrame = false)
    {
        int index = Array.IndexOf([AspectSplitter.Theme, AspectSplitter.Objects, AspectSplitter.Relationships], aspect);
        return experts switch
        {
            1 => 0,
            2 => index == 2 ? 1 : 0,
            3 => index,
            _ => index == 2 && !aboutTheImageFrame ? 3 : index,
        };
    }

    /// <summary>The roles of N experts, in caption order.</summary>
    public static IReadOnlyList<string> Roles(int experts) => experts switch
    {
        1 => ["caption"],
        2 => ["theme-objects", AspectSplitter.Relationships],
        3 => [AspectSplitter.Theme, AspectSplitter.Objects, AspectSplitter.Relationships],
        4 => [AspectSplitter.Theme, AspectSplitter.Objects, "positions", "relations"],
        _ => throw new ArgumentException("1 to 4 experts are supported"),
    };

    static bool AboutTheFrame(string sentenceOrQuestionType) =>
        sentenceOrQuestionType is "ab_position" || sentenceOrQuestionType.Contains("of the image", StringComparison.Ordinal)
        || sentenceOrQuestionType.Contains("across the image", StringComparison.Ordinal) || sentenceOrQuestionType.Contains("through the image", StringComparison.Ordinal);

    /// <summary>
    /// What is true of every RSSCN7 photo of a class, one sentence per aspect in the phrasing of UCM-captions and RSICD
    /// (class names as RSICD's labels have them): the photos carry no captions, only their class.
    /// </summary>
    static readonly Dictionary<string, (string[] Theme, string Objects, string Relationships)> Rsscn7Sentences = new()
    {
        ["aGrass"] = (["It is a piece of meadow.", "This is a large meadow."], "There is a large area of green grass.", "The grass covers most of the ground."),
        ["bField"] = (["It is a piece of farmland.", "This is a large farmland."], "There are many fields of different colors.", "The fields are arranged next to each other."),
        ["cIndustry"] = (["This is an industrial area.", "It is an industrial area with many factories."], "There are many large factory buildings.", "Some roads run between the factories."),
        ["dRiverLake"] = (["This is a river.", "It is a piece of water."], "There is a large area of water.", "Some green plants are along the bank of the water."),
        ["eForest"] = (["It is a piece of forest.", "This is a dense forest."], "Many green trees are in the forest.", "The trees are close to each other."),
        ["fResident"] = (["This is a residential area.", "It is a dense residential area."], "There are many houses and some green trees.", "The houses are arranged along the roads."),
        ["gParking"] = (["This is a parking lot.", "It is a large parking lot."], "Many cars are parked in the parking lot.", "The cars are parked in rows."),
    };

    /// <summary>RSSCN7 classes as the theme question answers them (RSICD's label for the same scene).</summary>
    static readonly Dictionary<string, string> Rsscn7SceneAnswers = new()
    {
        ["aGrass"] = "meadow", ["bField"] = "farmland", ["cIndustry"] = "industrial", ["dRiverLake"] = "river",
        ["eForest"] = "forest", ["fResident"] = "residential", ["gParking"] = "parking",
    };

    public static string Rsscn7Theme(string label) => Rsscn7Sentences.TryGetValue(label, out var t) ? t.Theme[0] : throw new ArgumentException($"unknown RSSCN7 class '{label}'");

    public static (List<TrainingSample> Stage1, List<TrainingSample> Stage2) Build(TrainingConfig config, string split = "train")
    {
        var stage1 = new List<TrainingSample>();
        var stage2 = new List<TrainingSample>();
        if (config.Data is { Length: > 0 } data) AddSynthetic(config, data, split, stage1, stage2);

        if (config.RealData is { } root)
        {
            var real = new RealImagery(root);
            RealImagerySamples.Add(real.Ucm(), split, config.Experts, stage1, stage2, config.TrainImages);
            RealImagerySamples.Add(real.Rsicd().Dataset, split, config.Experts, stage1, stage2, config.TrainImages);
        }
        if (config.Rsscn7 is { } rsscn7)
        {
            // Real photographs at four scales: their class's sentences and the theme question, for each photo and for
            // zoomed-out mosaics of it with others of its class at its scale, so that a k×k mosaic shows the ground k
            // times farther away than its photos (the training photos are at scales 1–3; the farthest, 4, is seen only so).
            var random = new Random(config.Seed);
            var photos = RsMoe.Data.Datasets.Rsscn7.Split(rsscn7, "train");
            var byClassAndScale = photos.GroupBy(p => (p.Label, p.Scale)).ToDictionary(g => g.Key, g => g.Select(p => p.Path).ToArray());
            foreach (var photo in photos)
            {
                AddRsscn7(config, photo.Label, photo.Path, null, random, stage1, stage2);
                foreach (var (count, others) in (IEnumerable<(int, int)>)[(config.Rsscn7Mosaics, 3), (config.Rsscn7FarMosaics, 15)])
                    for (int m = 0; m < count; m++)
                    {
                        var with = byClassAndScale[(photo.Label, photo.Scale)].Where(p => p != photo.Path).OrderBy(_ => random.Next()).Take(others).ToArray();
                        if (with.Length == others) AddRsscn7(config, photo.Label, photo.Path, with, random, stage1, stage2);
                    }
            }
        }
        if (config.TurnedViews > 0)
        {
            var random = new Random(config.Seed + 7);
            stage1 = stage1.Select(s => Turned(s, config.TurnedViews, config.Seed, random)).ToList();
            stage2 = stage2.Select(s => Turned(s, config.TurnedViews, config.Seed, random)).ToList();
        }
        return (stage1, stage2);
    }

    static readonly Regex SideOfTheFrame =
        new(@"\b(left|right|top|bottom|upper|lower|corner|north|south|east|west)", RegexOptions.IgnoreCase | RegexOptions.Compiled);

    /// <summary>
    /// The example showing its photo turned or mirrored, with probability <paramref name="share"/>: an aerial photo has
    /// no up, so each orientation of the square is as true a view as the one stored. One orientation per photo (from
    /// its name and the seed), so each photo costs at most one more encoding. A mosaic, or an example whose words name a
    /// side of the frame ("on the left", "at the top"), stays as it is: turning would make its words false.
    /// </summary>
    public static TrainingSample Turned(TrainingSample sample, double share, int seed, Random random)
    {
        if (sample.MosaicWith is not null || SideOfTheFrame.IsMatch(sample.Prompt) || SideOfTheFrame.IsMatch(sample.Target)) return sample;
        if (random.NextDouble() >= share) return sample;
        return sample with { Turn = 1 + (int)((RealImagerySamples.StableHash(Path.GetFileName(sample.ImagePath)) ^ (uint)seed) % 7) };
    }

    static void AddRsscn7(TrainingConfig config, string label, string path, string[]? mosaicWith, Random random, List<TrainingSample> stage1, List<TrainingSample> stage2)
    {
        var (themes, objects, relationships) = Rsscn7Sentences[label];
        string theme = themes[random.Next(themes.Length)];
        stage1.Add(new TrainingSample(path, CaptionPolicy.Instruction, theme, 0, false, $"rsscn7:{label}", mosaicWith));
        if (config.RealData is null)
        {
            stage2.Add(new TrainingSample(path, CaptionPolicy.Instruction, theme, ExpertOf(AspectSplitter.Theme, config.Experts), false, MosaicWith: mosaicWith));
            return;
        }
        RealImagerySamples.AddSections(path, [new(theme, AspectSplitter.Theme), new(objects, AspectSplitter.Objects), new(relationships, AspectSplitter.Relationships)], config.Experts, stage2, mosaicWith);
        stage2.Add(new TrainingSample(path, CaptionPolicy.ThemeQuestion, Rsscn7SceneAnswers[label], ExpertOf(AspectSplitter.Theme, config.Experts), true, MosaicWith: mosaicWith));
    }

    /// <summary>The synthetic benchmark's captions (split by aspect as generated) and its questions.</summary>
    static void AddSynthetic(TrainingConfig config, string data, string split, List<TrainingSample> stage1, List<TrainingSample> stage2)
    {
        var captions = DatasetReader.Read(Path.Combine(data, "captions.json"));
        string vqaPath = Path.Combine(data, "vqa.json");
        var vqa = File.Exists(vqaPath) ? DatasetReader.Read(vqaPath).Images.ToDictionary(i => i.Id) : [];
        string imageRoot = config.Images ?? data;
        var images = captions.Split(split).ToList();
        if (config.TrainImages > 0) images = images.Take(config.TrainImages).ToList();
        foreach (var image in images)
        {
            string path = Path.Combine(imageRoot, image.FileName);
            string instruction = image.Instruction ?? CaptionPolicy.Instruction;
            stage1.Add(new TrainingSample(path, instruction, image.Captions[0], 0, false));
            var aspects = image.Aspects ?? AspectSplitter.Split(image.Captions[0]);
            // Each expert's target: the caption's sentences of its aspects, in caption order.
            for (int e = 0; e < config.Experts; e++)
            {
                string section = string.Join(' ', aspects.Where(a => ExpertOf(a.Aspect, config.Experts, AboutTheFrame(a.Text)) == e).Select(a => a.Text));
                if (section.Length > 0) stage2.Add(new TrainingSample(path, instruction, section, e, false));
            }
            if (config.IncludeVqa && vqa.TryGetValue(image.Id, out var questions))
                foreach (var qa in questions.QaPairs)
                    stage2.Add(new TrainingSample(path, qa.Question, qa.Answer, ExpertOf(AspectOfQuestion(qa.Type), config.Experts, AboutTheFrame(qa.Type)), true));
        }
    }
}
