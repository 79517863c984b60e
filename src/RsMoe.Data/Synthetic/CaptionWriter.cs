using RsMoe.Data.Aspects;
using RsMoe.Data.Datasets;

namespace RsMoe.Data.Synthetic;

/// <summary>
/// Writes an RSICap-style caption for a scene from many templates and synonyms, every sentence labelled with its
/// aspect: a theme sentence first, object sentences (kind, colour, size, count), relationship sentences (where
/// groups are, how they relate, which way roads run), and sometimes a closing theme sentence.
/// </summary>
public static class CaptionWriter
{
    static readonly string[] ThemeOpenings =
    [
        "This is an aerial image of {0}.", "This high-resolution remote sensing image shows {0}.", "The image depicts {0} seen from above.",
        "This satellite image captures {0}.", "An overhead view of {0} is shown in this image.", "This is a high-resolution aerial image showing {0}.",
        "The image is an aerial view of {0}.",
    ];

    static readonly string[] ThemeClosings =
    [
        "Overall, the scene is {0}.", "In general, this image shows a typical view of {0}.", "Overall, it is {0} with a clear layout.",
    ];

    public static IReadOnlyList<AspectSentence> Write(Scene scene, Random random)
    {
        var sentences = new List<AspectSentence>();
        string themeName = random.Pick(Vocabulary.ThemeNames[scene.Theme]);
        sentences.Add(new(string.Format(random.Pick(ThemeOpenings), themeName), AspectSplitter.Theme));

        var objectSentences = scene.Groups.Select(g => new AspectSentence(DescribeGroup(scene, g, random), AspectSplitter.Objects)).ToList();
        var relationSentences = new List<AspectSentence>();
        foreach (var line in scene.Lines) relationSentences.Add(new(DescribeLine(line, random), AspectSplitter.Relationships));
        foreach (var group in scene.Groups.OrderBy(_ => random.Next()).Take(Math.Min(3, scene.Groups.Count)))
            relationSentences.Add(new(DescribePosition(scene, group, random), AspectSplitter.Relationships));
        foreach (var relation in scene.Relations)
            relationSentences.Add(new(DescribeRelation(scene, relation, random), AspectSplitter.Relationships));

        sentences.AddRange(objectSentences);
        sentences.AddRange(relationSentences);
        if (random.Next(3) == 0) sentences.Add(new(string.Format(random.Pick(ThemeClosings), themeName), AspectSplitter.Theme));
        return sentences;
    }

    static string Capitalise(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..];

    /// <summary>How a group is named when it is referred to again: "the red buildings", "the trees".</summary>
    public static string Reference(Scene scene, ObjectGroup group)
    {
        bool ambiguous = scene.Groups.Count(g => g.Class == group.Class) > 1;
        string name = Vocabulary.Name(group.Class, group.Count);
        return ambiguous ? $"the {group.Colour} {name}" : $"the {name}";
    }

    static string CountPhrase(int count, Random random) => count switch
    {
        1 => random.Pick(["one", "a single", "a"]),
        >= 7 when random.Next(3) == 0 => random.Pick(["many", "numerous", "a large number of"]),
        >= 3 and < 7 when random.Next(4) == 0 => random.Pick(["several", "a few", "some"]),
        _ => Vocabulary.NumberWord(count),
    };

    static string DescribeGroup(Scene scene, ObjectGroup g, Random random)
    {
        string count = CountPhrase(g.Count, random);
        string name = Vocabulary.Name(g.Class, g.Count);
        string be = g.Count == 1 ? "is" : "are";
        string size = g.Size == "medium" ? "" : g.Size + " ";
        return g.Class switch
        {
            "building" => random.Pick([
                $"There {be} {count} {size}{name} with {g.Colour} roofs.",
                $"{Capitalise(count)} {size}{g.Colour}-roofed {name} can be seen.",
                $"The image contains {count} {size}{name} whose roofs are {g.Colour}.",
            ]),
            "tree" => random.Pick([
                $"There {be} {count} {g.Colour} {name}.", $"{Capitalise(count)} {size}{name} with {g.Colour} canopies can be seen.",
                $"The image shows {count} {name} with {g.Colour} foliage.",
            ]),
            "field" => random.Pick([
                $"There {be} {count} {size}{g.Colour} {name}.", $"{Capitalise(count)} {g.Colour} farm {name} can be observed.",
            ]),
            _ => random.Pick([
                $"There {be} {count} {size}{g.Colour} {name}.", $"{Capitalise(count)} {g.Colour} {name} can be seen.",
                $"The image contains {count} {size}{g.Colour} {name}.", $"{Capitalise(count)} {size}{name}, all {g.Colour}, are visible.",
            ]),
        };
    }

    public static string Direction(string direction) => direction switch
    {
        "north-south" => "from north to south",
        "east-west" => "from east to west",
        _ => "diagonally",
    };

    static string DescribeLine(LinearFeature line, Random random) => line.Class switch
    {
        "road" => random.Pick([$"A road runs {Direction(line.Direction)} across the image.", $"The road extends {Direction(line.Direction)} through the scene.",
            $"A straight road crosses the image {Direction(line.Direction)}."]),
        "river" => random.Pick([$"A river flows {Direction(line.Direction)} through the image.", $"The river runs {Direction(line.Direction)} across the scene."]),
        _ => random.Pick([$"The water occupies the {WaterSide(line)} part of the image.", $"The {WaterSide(line)} side of the image is covered by water."]),
    };

    public static string WaterSide(LinearFeature water) => water.Direction == "north-south"
        ? (water.X0 < 0.5 ? "left" : "right")
        : (water.Y0 < 0.5 ? "upper" : "lower");

    static string DescribePosition(Scene scene, ObjectGroup g, Random random)
    {
        string where = Regions.Phrase(g.Region, random);
        string reference = Reference(scene, g);
        string be = g.Count == 1 ? "is" : "are";
        return random.Pick([
            $"{Capitalise(reference)} {be} located {where}.",
            $"{Capitalise(where)}, there {be} {reference[4..]}.",
            $"{Capitalise(reference)} {be} situated {where}.",
        ]);
    }

    static string DescribeRelation(Scene scene, Relation relation, Random random)
    {
        string Name(string key) => key == "road" ? "the road" : Reference(scene, scene.Groups.First(g => ScenePlanner.GroupKey(g) == key));
        string subject = Name(relation.Subject);
        var subjectGroup = scene.Groups.FirstOrDefault(g => ScenePlanner.GroupKey(g) == relation.Subject);
        string be = subjectGroup?.Count == 1 ? "is" : "are";
        string obj = Name(relation.Object);
        return relation.Kind switch
        {
            "along" => random.Pick([$"{Capitalise(subject)} {be} lined up along {obj}.", $"{Capitalise(subject)} {be} arranged along {obj}."]),
            "surrounding" => random.Pick([$"{Capitalise(subject)} surround {obj}.", $"{Capitalise(obj)} {(obj.EndsWith('s') ? "are" : "is")} surrounded by {subject}."]),
            "next to" => random.Pick([$"{Capitalise(subject)} {be} next to {obj}.", $"{Capitalise(subject)} {be} close to {obj}."]),
            "left of" => $"{Capitalise(subject)} {be} to the left of {obj}.",
            "right of" => $"{Capitalise(subject)} {be} to the right of {obj}.",
            "above" => random.Pick([$"{Capitalise(subject)} {be} above {obj}.", $"{Capitalise(subject)} {be} located above {obj}."]),
            "below" => random.Pick([$"{Capitalise(subject)} {be} below {obj}.", $"{Capitalise(subject)} {be} located below {obj}."]),
            "between" => $"{Capitalise(subject)} {be} between {obj} and {Name(relation.Second!)}.",
            _ => throw new InvalidOperationException($"unknown relation {relation.Kind}"),
        };
    }

    /// <summary>The words for a relation in an answer ("to the left of", "along").</summary>
    public static string RelationWords(string kind) => kind switch
    {
        "left of" => "to the left of", "right of" => "to the right of", "surrounding" => "around", _ => kind,
    };
}
